// Command logpipe operates logpipe consumers: it lists their positions with
// the broker's ends and the lag, moves them (as kafka-consumer-groups.sh
// --reset-offsets does, printing the plan and changing nothing without
// --execute), and creates the offsets tables.
//
//	logpipe offsets list  --db postgres://... --kafka-brokers b-1:9092
//	logpipe offsets reset --db ... --kafka-brokers ... --topic people --to-datetime 2026-11-29T10:00:00Z [--execute]
//	logpipe migrate       --db sqlite:app.db
//
// Every flag can come from the environment instead (LOGPIPE_DB,
// LOGPIPE_KAFKA_BROKERS, ...); run logpipe --help for the list.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "logpipe:", err)
		os.Exit(1)
	}
}

// run runs the command line args, writing to stdout and stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

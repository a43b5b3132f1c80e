package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/offsetstore"
)

func newOffsetsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "offsets",
		Short: "List and move consumer positions",
		Long: `offsets lists and moves the positions consumers keep in the database
(logpipe_kafkaoffset for Kafka and the in-memory broker, logpipe_kinesisoffset
for Kinesis), the tables django-logpipe shares.`,
	}
	cmd.AddCommand(newOffsetsListCmd(a), newOffsetsResetCmd(a))
	return cmd
}

// kafkaRow is one Kafka partition in offsets list.
type kafkaRow struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Position is the stored next offset to read; nil when none is stored
	// (a consumer starts at the earliest offset).
	Position *int64 `json:"position"`
	// Earliest and End are the log's start and end (nil without brokers).
	Earliest *int64 `json:"earliest"`
	End      *int64 `json:"end"`
	// Lag is End minus Position (or Earliest when none is stored).
	Lag *int64 `json:"lag"`
}

// kinesisRow is one Kinesis shard in offsets list.
type kinesisRow struct {
	Region         string `json:"region"`
	Stream         string `json:"stream"`
	Shard          string `json:"shard"`
	SequenceNumber string `json:"sequence_number"`
}

func newOffsetsListCmd(a *app) *cobra.Command {
	var topic string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every consumer position, with the broker's end and the lag",
		Long: `list shows every stored position: for Kafka, each partition's stored
position (the next offset a consumer reads), the log's end (the high
watermark, from the brokers given by --kafka-brokers) and the lag, the
records written and not yet applied (end minus position). A partition
without a stored position is read from its earliest offset. For Kinesis,
the stored sequence numbers (the last record applied of each shard).

Without --kafka-brokers only the stored positions are shown.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			kb, err := a.kafkaBackend()
			if err != nil {
				return err
			}
			db, closeDB, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer closeDB()
			krows, err := kafkaRows(cmd.Context(), db, kb, topic)
			if err != nil {
				return err
			}
			nrows, err := kinesisRows(cmd.Context(), db, topic, a.kinesisRegion)
			if err != nil {
				return err
			}
			if a.output == "json" {
				return writeJSON(a.stdout, map[string]any{"kafka": krows, "kinesis": nrows})
			}
			return printList(a.stdout, krows, nrows, kb != nil)
		},
	}
	cmd.Flags().StringVar(&topic, "topic", "", "only this topic or stream (default: all)")
	return cmd
}

// kafkaRows joins the stored positions with the brokers' ends (kb may be
// nil). With kb, every partition of each topic is listed, stored or not.
func kafkaRows(ctx context.Context, db *gorm.DB, kb *kafka.Backend, topic string) ([]kafkaRow, error) {
	stored, err := offsetstore.KafkaPositions(ctx, db, topic)
	if err != nil {
		return nil, fmt.Errorf("%w (is this the right database? run logpipe migrate to create the tables)", err)
	}
	var topics []string
	pos := map[string]map[int32]int64{}
	for _, r := range stored {
		if pos[r.Topic] == nil {
			pos[r.Topic] = map[int32]int64{}
			topics = append(topics, r.Topic)
		}
		pos[r.Topic][r.Partition] = r.Offset
	}
	if topic != "" && len(topics) == 0 && kb != nil {
		topics = []string{topic}
	}
	rows := []kafkaRow{}
	for _, t := range topics {
		if kb == nil {
			for _, r := range stored {
				if r.Topic == t {
					rows = append(rows, kafkaRow{Topic: t, Partition: r.Partition, Position: ptr(r.Offset)})
				}
			}
			continue
		}
		ends, err := kb.Offsets(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("%w (check --kafka-brokers and the topic)", err)
		}
		for _, e := range ends {
			r := kafkaRow{Topic: t, Partition: e.Partition, Earliest: ptr(e.Earliest), End: ptr(e.Latest)}
			from := e.Earliest
			if p, ok := pos[t][e.Partition]; ok {
				r.Position = ptr(p)
				from = max(p, e.Earliest)
			}
			r.Lag = ptr(max(e.Latest-from, 0))
			rows = append(rows, r)
		}
	}
	return rows, nil
}

func kinesisRows(ctx context.Context, db *gorm.DB, stream, region string) ([]kinesisRow, error) {
	stored, err := offsetstore.KinesisPositions(ctx, db, stream)
	if err != nil {
		return nil, err
	}
	rows := []kinesisRow{}
	for _, r := range stored {
		if region == "" || r.Region == region {
			rows = append(rows, kinesisRow{Region: r.Region, Stream: r.Stream, Shard: r.Shard, SequenceNumber: r.SequenceNumber})
		}
	}
	return rows, nil
}

func printList(w io.Writer, krows []kafkaRow, nrows []kinesisRow, withEnds bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(krows) > 0 || len(nrows) == 0 {
		cell(tw, "TOPIC\tPARTITION\tPOSITION\tEND\tLAG\n")
		for _, r := range krows {
			cell(tw, "%s\t%d\t%s\t%s\t%s\n", r.Topic, r.Partition, orDash(r.Position, "-"), orDash(r.End, "?"), orDash(r.Lag, "?"))
		}
	}
	if len(nrows) > 0 {
		if len(krows) > 0 {
			cell(tw, "\n")
		}
		cell(tw, "REGION\tSTREAM\tSHARD\tLAST APPLIED SEQUENCE NUMBER\n")
		for _, r := range nrows {
			cell(tw, "%s\t%s\t%s\t%s\n", r.Region, r.Stream, r.Shard, r.SequenceNumber)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !withEnds && len(krows) > 0 {
		_, err := fmt.Fprintln(w, "\n(END and LAG need the brokers: give --kafka-brokers)")
		return err
	}
	return nil
}

func newOffsetsResetCmd(a *app) *cobra.Command {
	var (
		topic                     string
		partitions                []int
		toEarliest, toLatest, run bool
		force                     bool
		toDatetime                string
		shiftBy                   int64
	)
	cmd := &cobra.Command{
		Use:   "reset --topic TOPIC (--to-earliest | --to-latest | --to-datetime T | --shift-by N) [--execute]",
		Short: "Move the consumer positions of a Kafka topic (a dry run unless --execute)",
		Long: `reset moves the stored positions of a Kafka topic's partitions (all, or
those of --partitions), as kafka-consumer-groups.sh --reset-offsets does:

  --to-earliest      the log's first offset: everything still on the topic is applied again
  --to-latest        the log's end: everything not yet applied is skipped
  --to-datetime T    the first record at or after T (RFC 3339, e.g. 2026-11-29T10:00:00Z)
  --shift-by N       N records forward (or back when negative), kept within the log

It prints the plan (current and new position of each partition) and changes
nothing, unless --execute is given: then it writes every new position in one
transaction. Stop the topic's consumers first: on PostgreSQL, reset refuses
while a consumer of the topic runs (it holds the topic's lock) unless
--force is given; a consumer that runs meanwhile stops at its next commit
(offsetstore.ErrOffsetMoved) rather than apply a record twice.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			if topic == "" {
				return errors.New("reset: give the topic, --topic NAME")
			}
			n := 0
			for _, set := range []bool{toEarliest, toLatest, toDatetime != "", cmd.Flags().Changed("shift-by")} {
				if set {
					n++
				}
			}
			if n != 1 {
				return errors.New("reset: give exactly one of --to-earliest, --to-latest, --to-datetime T, --shift-by N")
			}
			var at time.Time
			if toDatetime != "" {
				t, err := time.Parse(time.RFC3339Nano, toDatetime)
				if err != nil {
					return fmt.Errorf("reset: --to-datetime %q: use RFC 3339, e.g. 2026-11-29T10:00:00Z", toDatetime)
				}
				at = t
			}
			kb, err := a.kafkaBackend()
			if err != nil {
				return err
			}
			if kb == nil {
				return errors.New("reset: needs the Kafka brokers, --kafka-brokers host:port (Kinesis positions cannot be reset yet)")
			}
			db, closeDB, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer closeDB()
			ctx := cmd.Context()
			ends, err := kb.Offsets(ctx, topic)
			if err != nil {
				return fmt.Errorf("reset: %w (check --kafka-brokers and --topic)", err)
			}
			var atOffsets map[int32]int64
			if !at.IsZero() {
				ats, err := kb.OffsetsAt(ctx, topic, at)
				if err != nil {
					return fmt.Errorf("reset: %w", err)
				}
				atOffsets = map[int32]int64{}
				for _, o := range ats {
					atOffsets[o.Partition] = o.Earliest
				}
			}
			stored, err := offsetstore.KafkaPositions(ctx, db, topic)
			if err != nil {
				return fmt.Errorf("reset: %w (run logpipe migrate to create the tables)", err)
			}
			current := map[int32]int64{}
			for _, r := range stored {
				current[r.Partition] = r.Offset
			}
			plan, err := planReset(ends, current, partitions, func(e kafka.PartitionOffsets, cur int64) int64 {
				switch {
				case toEarliest:
					return e.Earliest
				case toLatest:
					return e.Latest
				case atOffsets != nil:
					return atOffsets[e.Partition]
				}
				return min(max(cur+shiftBy, e.Earliest), e.Latest)
			})
			if err != nil {
				return fmt.Errorf("reset: topic %q: %w", topic, err)
			}
			if run && !force {
				running, known, err := logpipe.ConsumerRunning(ctx, db, "kafka", topic, "")
				if err != nil {
					return fmt.Errorf("reset: %w", err)
				}
				if running {
					return fmt.Errorf("reset: a consumer of topic %q is running on this database (it holds the topic's lock): stop it first, then run the reset again (or --force)", topic)
				}
				if !known && a.output != "json" {
					_, _ = fmt.Fprintln(a.stderr, "reset: whether a consumer runs is only known on PostgreSQL: make sure the topic's consumers are stopped")
				}
			}
			if run {
				next := map[int32]int64{}
				for _, p := range plan {
					next[p.Partition] = p.New
				}
				if err := offsetstore.SetKafkaOffsets(ctx, db, topic, next); err != nil {
					return fmt.Errorf("reset: %w", err)
				}
			}
			if a.output == "json" {
				return writeJSON(a.stdout, map[string]any{"topic": topic, "executed": run, "partitions": plan})
			}
			return printPlan(a.stdout, topic, plan, run)
		},
	}
	f := cmd.Flags()
	f.StringVar(&topic, "topic", "", "the Kafka topic (required)")
	f.IntSliceVar(&partitions, "partitions", nil, "only these partitions, e.g. 0,2 (default: all)")
	f.BoolVar(&toEarliest, "to-earliest", false, "move to the log's first offset")
	f.BoolVar(&toLatest, "to-latest", false, "move to the log's end")
	f.StringVar(&toDatetime, "to-datetime", "", "move to the first record at or after this time (RFC 3339)")
	f.Int64Var(&shiftBy, "shift-by", 0, "move by this many records (negative: back)")
	f.BoolVar(&run, "execute", false, "write the new positions (without it, only print the plan)")
	f.BoolVar(&force, "force", false, "with --execute: reset even while a consumer of the topic runs (it then stops at its next commit)")
	return cmd
}

// resetRow is one partition of a reset's plan.
type resetRow struct {
	Partition int32 `json:"partition"`
	// Current is the stored position; nil when none is stored.
	Current *int64 `json:"current"`
	// New is the position after the reset.
	New int64 `json:"new"`
}

// planReset computes the new position of each selected partition; a
// partition without a stored position is taken to be at its earliest
// offset, where a consumer would start.
func planReset(ends []kafka.PartitionOffsets, current map[int32]int64, only []int, next func(kafka.PartitionOffsets, int64) int64) ([]resetRow, error) {
	known := map[int32]bool{}
	for _, e := range ends {
		known[e.Partition] = true
	}
	for _, p := range only {
		if !known[int32(p)] {
			return nil, fmt.Errorf("partition %d does not exist (the topic has %d partitions, 0 to %d)", p, len(ends), len(ends)-1)
		}
	}
	var plan []resetRow
	for _, e := range ends {
		if len(only) > 0 && !slices.Contains(only, int(e.Partition)) {
			continue
		}
		r := resetRow{Partition: e.Partition}
		cur := e.Earliest
		if c, ok := current[e.Partition]; ok {
			r.Current, cur = ptr(c), c
		}
		r.New = next(e, cur)
		plan = append(plan, r)
	}
	return plan, nil
}

func printPlan(w io.Writer, topic string, plan []resetRow, executed bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	cell(tw, "TOPIC\tPARTITION\tCURRENT\tNEW\n")
	for _, r := range plan {
		cell(tw, "%s\t%d\t%s\t%d\n", topic, r.Partition, orDash(r.Current, "-"), r.New)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	msg := "\nDry run: nothing changed. Stop the topic's consumers, then run again with --execute."
	if executed {
		msg = "\nDone: the new positions are stored. Restart the topic's consumers."
	}
	_, err := fmt.Fprintln(w, msg)
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func ptr[T any](v T) *T { return &v }

func orDash(p *int64, dash string) string {
	if p == nil {
		return dash
	}
	return strconv.FormatInt(*p, 10)
}

// cell writes to a tabwriter, which buffers: its Flush reports any write
// error.
func cell(tw *tabwriter.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(tw, format, args...)
}

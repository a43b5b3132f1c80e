package main

import (
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/offsetstore"
)

// deadLetterFlags select dead letters.
type deadLetterFlags struct {
	topic, consumer string
	limit           int
}

func (f *deadLetterFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.topic, "topic", "", "only this topic or stream (default: all)")
	cmd.Flags().StringVar(&f.consumer, "consumer", "", "the consumer's name (default: the unnamed consumer)")
	cmd.Flags().IntVar(&f.limit, "limit", 1000, "list at most this many")
}

func (f *deadLetterFlags) filter(ids []int64) offsetstore.DeadLetterFilter {
	return offsetstore.DeadLetterFilter{Consumer: f.consumer, Topic: f.topic, IDs: ids, Limit: f.limit}
}

func newDeadLettersCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deadletters",
		Short: "List, show and purge the records consumers could not apply",
		Long: `deadletters reads logpipe_deadletter: records a consumer could not apply
(they did not decode, failed validation, have a version no serializer
handles, or their save failed permanently), each kept with its raw value,
position, key and error in the transaction that committed its offset.

Replaying needs the service's serializers: call Consumer.ReplayDeadLetter
from the service (it refuses a dead letter a later record of its key has
superseded, unless forced). This command lists, shows and purges.`,
	}
	cmd.AddCommand(newDeadLettersListCmd(a), newDeadLettersShowCmd(a), newDeadLettersPurgeCmd(a))
	return cmd
}

func newDeadLettersListCmd(a *app) *cobra.Command {
	var f deadLetterFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List dead letters, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			db, closeDB, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer closeDB()
			if !offsetstore.HasDeadLetterTable(cmd.Context(), db) {
				return errors.New("this database has no dead-letter table: run logpipe migrate")
			}
			rows, err := offsetstore.ListDeadLetters(cmd.Context(), db, f.filter(nil))
			if err != nil {
				return err
			}
			if a.output == "json" {
				return writeJSON(a.stdout, rows)
			}
			w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			_, _ = fmt.Fprintln(w, "ID\tTOPIC\tPOSITION\tKEY\tTYPE\tVERSION\tKIND\tATTEMPTS\tSUPERSEDED\tCREATED")
			for _, d := range rows {
				pos := strconv.Itoa(int(d.Partition)) + "@" + strconv.FormatInt(d.Offset, 10)
				if d.Shard != "" {
					pos = d.Shard + "@" + d.SequenceNumber
				}
				superseded := "-"
				if d.SupersededAt != nil {
					superseded = d.SupersededAt.Format("2006-01-02T15:04:05Z")
				}
				_, _ = fmt.Fprintf(w, "%d\t%s\t%s\t%q\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Topic, pos, clipText(string(d.Key)), d.Type, d.Version, d.ErrorKind, d.Attempts, superseded, d.CreatedAt.Format("2006-01-02T15:04:05Z"))
			}
			return w.Flush()
		},
	}
	f.add(cmd)
	return cmd
}

func newDeadLettersShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one dead letter: its position, error and raw value",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("show %q: the id is a number, as deadletters list shows", args[0])
			}
			db, closeDB, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer closeDB()
			d, err := offsetstore.GetDeadLetter(cmd.Context(), db, id)
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return fmt.Errorf("no dead letter %d (deadletters list shows the ids)", id)
			}
			if err != nil {
				return err
			}
			if a.output == "json" {
				return writeJSON(a.stdout, d)
			}
			_, err = fmt.Fprintf(a.stdout, "id:        %d\nconsumer:  %q\ntopic:     %s\npartition: %d\noffset:    %d\nshard:     %s\nsequence:  %s\nkey:       %q\ntype:      %s\nversion:   %s\nkind:      %s\nattempts:  %d\ncreated:   %s\nerror:     %s\nvalue:     %s\n",
				d.ID, d.Consumer, d.Topic, d.Partition, d.Offset, d.Shard, d.SequenceNumber, d.Key, d.Type, d.Version, d.ErrorKind, d.Attempts, d.CreatedAt.Format("2006-01-02T15:04:05.000000Z"), d.Error, d.Value)
			return err
		},
	}
}

func newDeadLettersPurgeCmd(a *app) *cobra.Command {
	var (
		f       deadLetterFlags
		execute bool
	)
	cmd := &cobra.Command{
		Use:   "purge [ID...]",
		Short: "Delete dead letters (the given ids, or all of --topic); a dry run unless --execute",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			var ids []int64
			for _, s := range args {
				id, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return fmt.Errorf("purge %q: ids are numbers, as deadletters list shows", s)
				}
				ids = append(ids, id)
			}
			if len(ids) == 0 && f.topic == "" {
				return errors.New("purge: name the dead letters (ids) or a --topic; nothing is purged by default")
			}
			db, closeDB, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer closeDB()
			flt := f.filter(ids)
			rows, err := offsetstore.ListDeadLetters(cmd.Context(), db, flt)
			if err != nil {
				return err
			}
			var n int64
			if execute {
				if n, err = offsetstore.PurgeDeadLetters(cmd.Context(), db, flt); err != nil {
					return err
				}
			}
			if a.output == "json" {
				return writeJSON(a.stdout, map[string]any{"selected": len(rows), "purged": n, "executed": execute})
			}
			if !execute {
				_, err = fmt.Fprintf(a.stdout, "%d dead letter(s) would be purged; run again with --execute to purge them\n", len(rows))
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "purged %d dead letter(s)\n", n)
			return err
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&execute, "execute", false, "purge; without it, only say what would be purged")
	return cmd
}

// clipText shortens a wire value for a table cell.
func clipText(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

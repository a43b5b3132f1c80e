package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/logpipe-go/logpipe/offsetstore"
)

func newMigrateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the offsets tables (offsetstore.Migrate)",
		Long: `migrate creates the offsets tables (logpipe_kafkaoffset,
logpipe_kinesisoffset) when they are missing and applies the migrations not
applied yet, recorded in logpipe_schema_version (offsetstore.CurrentSchemaVersion). Tables that Django's
"manage.py migrate logpipe" created are used as they are. Safe to run from
several processes at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			db, closeDB, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer closeDB()
			if err := offsetstore.Migrate(cmd.Context(), db); err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			v, err := offsetstore.CurrentSchemaVersion(cmd.Context(), db)
			if err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			if a.output == "json" {
				return writeJSON(a.stdout, map[string]any{"schema_version": v})
			}
			_, err = fmt.Fprintf(a.stdout, "offsets tables at schema version %d\n", v)
			return err
		},
	}
}

package logpipe_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/libtnb/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/memory"
)

// A version that embeds the previous one must declare its own Save:
// InvoiceV2Forgot embeds InvoiceV1 and would be saved by InvoiceV1's Save,
// dropping its note, so Register refuses it.
func ExampleConsumer_Register_embeddedSave() {
	dir, err := os.MkdirTemp("", "logpipe-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		fmt.Println(err)
		return
	}
	consumer, err := logpipe.NewConsumer(logpipe.Settings{Backend: memory.NewBroker(memory.WithAutoCreateTopics(1)), DB: db}, "invoices")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(consumer.Register(&InvoiceV2Forgot{}))
	fmt.Println(consumer.Register(&InvoiceV2Own{}))
	// Output:
	// logpipe: Register(*logpipe_test.InvoiceV2Forgot): its Save is promoted from the embedded *logpipe_test.InvoiceV1 (field InvoiceV1), so a *logpipe_test.InvoiceV2Forgot message would be saved as a *logpipe_test.InvoiceV1, dropping the fields InvoiceV2Forgot adds; declare Save on *logpipe_test.InvoiceV2Forgot (it may call the embedded one)
	// <nil>
}

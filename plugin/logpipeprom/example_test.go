package logpipeprom_test

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/plugin/logpipeprom"
)

type pingV1 struct {
	logpipe.NoKey
	N int `json:"n"`
}

func (*pingV1) MessageType() string { return "ping" }
func (*pingV1) Version() int        { return 1 }

// Register the metrics and put them in Settings.Hooks; serve them with
// promhttp.HandlerFor(reg, promhttp.HandlerOpts{}) on /metrics.
func Example() {
	metrics := logpipeprom.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)

	settings := logpipe.Settings{Backend: memory.NewBroker(memory.WithAutoCreateTopics(1)), Hooks: []logpipe.Hook{metrics}}
	producer, err := logpipe.NewProducer(context.Background(), settings, "pings")
	if err != nil {
		panic(err)
	}
	defer producer.Close()
	for i := range 3 {
		if _, err := producer.Send(context.Background(), &pingV1{N: i}); err != nil {
			panic(err)
		}
	}

	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		if f.GetName() == "logpipe_records_sent_total" {
			for _, m := range f.GetMetric() {
				fmt.Println(f.GetName(), m.GetLabel()[0].GetValue(), m.GetLabel()[1].GetValue(), m.GetCounter().GetValue())
			}
		}
	}
	// Output:
	// logpipe_records_sent_total pings ping 3
}

// Command memprobe measures the memory a logpipe Kafka consumer process
// needs to read a whole topic. It exists because kafka-go decodes each
// record batch of a fetch response into a 64 KiB page of its own, so a
// topic written one record per batch (kafka-python with linger 0, as
// django-logpipe sends) costs far more memory than the same records in
// large batches.
//
// It runs in two steps, each its own process so that the second one's peak
// RSS is the consumer's alone:
//
//	memprobe -brokers 127.0.0.1:19092 -fill small -records 40000 -topic t1
//	memprobe -brokers 127.0.0.1:19092 -consume -records 40000 -topic t1
//	memprobe -brokers 127.0.0.1:19092 -delete -topic t1
//
// -fill small writes one record per produce request (one record batch
// each); -fill large writes them through SendBatch (batches of up to
// MaxBatchBytes). -consume reads the topic through the backend's Consumer
// from the earliest offsets, committing nothing, checks that every record
// arrived once and in offset order, and prints one line of figures: peak
// RSS (VmHWM), heap allocated in total, and time taken.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
)

func main() {
	brokers := flag.String("brokers", os.Getenv("LOGPIPE_TEST_KAFKA_BROKERS"), "comma-separated brokers")
	topic := flag.String("topic", "", "topic to fill or consume")
	records := flag.Int("records", 40000, "records to write or to expect")
	partitions := flag.Int("partitions", 1, "partitions of the topic -fill creates")
	size := flag.Int("size", 200, "value size in bytes")
	fill := flag.String("fill", "", `"small" (one record per batch) or "large" (SendBatch)`)
	consume := flag.Bool("consume", false, "consume the topic and report memory")
	fetchMax := flag.Int("fetch-max-bytes", 0, "Config.FetchMaxBytes (0: default)")
	del := flag.Bool("delete", false, "delete the topic")
	memprofile := flag.String("memprofile", "", "write an allocation profile of -consume to this file")
	flag.Parse()
	if *del && *brokers != "" && *topic != "" {
		tr := &kafkago.Transport{}
		defer tr.CloseIdleConnections()
		cl := &kafkago.Client{Addr: kafkago.TCP(strings.Split(*brokers, ",")...), Transport: tr, Timeout: 30 * time.Second}
		if _, err := cl.DeleteTopics(context.Background(), &kafkago.DeleteTopicsRequest{Topics: []string{*topic}}); err != nil {
			fmt.Fprintln(os.Stderr, "memprobe:", err)
			os.Exit(1)
		}
		return
	}
	if *brokers == "" || *topic == "" || (*fill == "") == !*consume {
		flag.Usage()
		os.Exit(2)
	}
	cfg := kafka.Config{Brokers: strings.Split(*brokers, ","), FetchMaxBytes: *fetchMax, PollInterval: 200 * time.Millisecond}
	var err error
	switch {
	case *consume:
		runtime.MemProfileRate = 64 << 10
		err = runConsume(cfg, *topic, *records)
		if err == nil && *memprofile != "" {
			err = writeProfile(*memprofile)
		}
	default:
		err = runFill(cfg, *topic, *fill, *records, *partitions, *size)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "memprobe:", err)
		os.Exit(1)
	}
}

func value(i, size int) []byte {
	head := fmt.Sprintf(`json:{"type":"person","version":1,"message":{"id":%d,"name":"`, i)
	return []byte(head + strings.Repeat("x", max(0, size-len(head)-3)) + `"}}`)
}

func runFill(cfg kafka.Config, topic, how string, n, partitions, size int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	tr := &kafkago.Transport{}
	defer tr.CloseIdleConnections()
	cl := &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Transport: tr, Timeout: 30 * time.Second}
	res, err := cl.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}}})
	if err != nil {
		return err
	}
	if err := res.Errors[topic]; err != nil {
		return err
	}
	switch how {
	case "small":
		// One produce request per record, one goroutine per partition:
		// each request holds one record batch of one record.
		var wg sync.WaitGroup
		errs := make([]error, partitions)
		for p := range partitions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := p; i < n && errs[p] == nil; i += partitions {
					for try := 0; ; try++ {
						r, err := cl.Produce(ctx, &kafkago.ProduceRequest{
							Topic: topic, Partition: p, RequiredAcks: kafkago.RequireOne,
							Records: kafkago.NewRecordReader(kafkago.Record{Key: kafkago.NewBytes([]byte(fmt.Sprint(i))), Value: kafkago.NewBytes(value(i, size))}),
						})
						if err == nil {
							err = r.Error
						}
						// A topic just created has no leader for a moment;
						// the broker refuses without writing.
						if err != nil && try < 50 && (errors.Is(err, kafkago.NotLeaderForPartition) || errors.Is(err, kafkago.LeaderNotAvailable)) {
							time.Sleep(200 * time.Millisecond)
							continue
						}
						errs[p] = err
						break
					}
				}
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	case "large":
		p, err := kafka.NewProducer(cfg)
		if err != nil {
			return err
		}
		defer func() { _ = p.Close() }() // a measuring tool: the figures are printed already
		for sent := 0; sent < n; sent += 10000 {
			msgs := make([]backend.Message, min(10000, n-sent))
			for i := range msgs {
				msgs[i] = backend.Message{Topic: topic, Key: []byte(fmt.Sprint(sent + i)), Value: value(sent+i, size)}
			}
			if _, err := p.SendBatch(ctx, msgs); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("-fill %q: use small or large", how)
}

// noOffsets stores nothing: every run reads from the earliest offsets.
type noOffsets struct{}

func (noOffsets) Load(context.Context, string, string) ([]backend.Position, error) {
	return nil, nil
}

func (noOffsets) Commit(context.Context, *gorm.DB, backend.Checkpoint) error { return nil }

func runConsume(cfg kafka.Config, topic string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c, err := kafka.NewConsumer(cfg, kafka.ConsumerOptions{Topic: topic, Offsets: noOffsets{}})
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	startRSS := peakRSS()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	next := map[int32]int64{}
	got := 0
	for got < n {
		recs, err := c.Fetch(ctx)
		if err != nil {
			return fmt.Errorf("after %d of %d records: %w", got, n, err)
		}
		for _, r := range recs {
			if want, ok := next[r.Partition]; ok && r.Offset != want {
				return fmt.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, want-1)
			}
			next[r.Partition] = r.Offset + 1
			got++
		}
	}
	elapsed := time.Since(start)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	alloc := float64(after.TotalAlloc-before.TotalAlloc) / (1 << 20)
	fmt.Printf("records=%d start_rss_mb=%.1f peak_rss_mb=%.1f alloc_mb=%.1f alloc_mb_per_1000=%.2f heap_sys_mb=%.1f gcs=%d seconds=%.2f records_per_s=%.0f\n",
		got, startRSS, peakRSS(), alloc, alloc*1000/float64(got), float64(after.HeapSys)/(1<<20), after.NumGC-before.NumGC,
		elapsed.Seconds(), float64(got)/elapsed.Seconds())
	return nil
}

func writeProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// peakRSS returns VmHWM, the process's peak resident set, in MiB (-1 when
// /proc is not there).
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%f kB", &kb); err == nil {
				return kb / 1024
			}
		}
	}
	return -1
}

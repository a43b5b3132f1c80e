package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// machine describes where and when a run happened.
type machine struct {
	date      time.Time
	cpus      int
	cpuModel  string
	memGiB    float64
	loadStart string
	loadEnd   string
	took      time.Duration
	versions  []string
	commit    string // the measured tree: git describe --always --dirty
}

func describeMachine(ctx context.Context, e env) *machine {
	m := &machine{date: time.Now().UTC(), cpus: runtime.NumCPU(), loadStart: loadavg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if s := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(b); s != nil {
			m.cpuModel = strings.TrimSpace(string(s[1]))
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if s := regexp.MustCompile(`(?m)^MemTotal:\s*(\d+) kB`).FindSubmatch(b); s != nil {
			_, _ = fmt.Sscan(string(s[1]), &kb)
			m.memGiB = kb / (1 << 20)
		}
	}
	if out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty").Output(); err == nil {
		m.commit = strings.TrimSpace(string(out))
	}
	m.versions = append(m.versions, runtime.Version())
	if e.classpath != "" {
		if s := regexp.MustCompile(`kafka-(\d+\.\d+\.\d+)`).FindStringSubmatch(e.classpath); s != nil {
			m.versions = append(m.versions, "Apache Kafka "+s[1])
		}
	}
	if e.pgDSN != "" {
		if db, err := gorm.Open(postgres.Open(e.pgDSN), &gorm.Config{Logger: logger.Discard}); err == nil {
			var v string
			if db.WithContext(ctx).Raw("SHOW server_version").Scan(&v).Error == nil {
				m.versions = append(m.versions, "PostgreSQL "+v)
			}
			if sqlDB, err := db.DB(); err == nil {
				_ = sqlDB.Close()
			}
		}
	}
	if e.python != "" {
		out, err := exec.CommandContext(ctx, e.python, "-c",
			`import importlib.metadata as m, sys; print("django-logpipe %s, Django %s, kafka-python %s, Python %d.%d" % (m.version("django-logpipe"), m.version("Django"), m.version("kafka-python"), *sys.version_info[:2]))`).Output()
		if err == nil {
			m.versions = append(m.versions, strings.TrimSpace(string(out)))
		}
	}
	return m
}

func (m *machine) finish(took time.Duration) {
	m.took = took
	m.loadEnd = loadavg()
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func (m *machine) line() string {
	return fmt.Sprintf("%s, commit %s, %d CPUs (%s), %.1f GiB, load average %s", m.date.Format("2006-01-02 15:04 MST"), m.commit, m.cpus, m.cpuModel, m.memGiB, m.loadStart)
}

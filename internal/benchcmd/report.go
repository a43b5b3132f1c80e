package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
)

// report turns the samples of a run into a table, ratios and a plot.
type report struct {
	m        *machine
	o        options
	cases    []benchCase
	results  map[string][]sample
	failures []string
}

// stat is the median and spread of one case's samples.
type stat struct {
	ok             bool
	med, min, max  float64 // records/s
	rssMed, rssMax float64 // MiB
	startRSS       float64 // MiB, median; 0 when not known
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r report) stat(name string) stat {
	ss := r.results[name]
	if len(ss) == 0 {
		return stat{}
	}
	var rates, rss, start []float64
	for _, s := range ss {
		rates = append(rates, s.rate)
		rss = append(rss, s.rssMB)
		start = append(start, s.startRSSMB)
	}
	return stat{ok: true, med: median(rates), min: slices.Min(rates), max: slices.Max(rates), rssMed: median(rss), rssMax: slices.Max(rss), startRSS: median(start)}
}

// target is a same-run ratio, with the target when there is one.
type target struct {
	what     string
	num, den string  // case names
	rss      bool    // a ratio of peak RSS, not of records/s
	atLeast  float64 // the ratio must be at least this (0: none)
	atMost   float64 // the ratio must be at most this (0: none)
	comment  string
}

func (r report) targets() []target {
	pg, sq := "Go consume and apply, postgres, ", "Go consume and apply, sqlite, "
	return []target{
		{what: "PostgreSQL, 1 record/tx, vs the original", num: pg + "1/tx", den: "original consume and apply, postgres", atLeast: 8},
		{what: "PostgreSQL, 100 records/tx, vs the original (1/tx, all it has)", num: pg + "100/tx", den: "original consume and apply, postgres", atLeast: 50},
		{what: "SQLite, 1 record/tx, vs the original", num: sq + "1/tx", den: "original consume and apply, sqlite"},
		{what: "SQLite, 100 records/tx, vs the original", num: sq + "100/tx", den: "original consume and apply, sqlite"},
		{what: "read and dispatch vs ConsumerPerformance", num: "Go read and dispatch, no-op save, 1000/tx", den: "ConsumerPerformance", atLeast: 0.25},
		{what: "SendBatch (10,000 a call) vs tuned ProducerPerformance", num: "Go SendBatch, 10000 a call", den: "ProducerPerformance, batch.size=1048576 linger.ms=10", atLeast: 1,
			comment: "at " + thousands(float64(r.o.perf)) + " records"},
		{what: "SendBatch (10,000 a call) vs ProducerPerformance, defaults", num: "Go SendBatch, 10000 a call", den: "ProducerPerformance, defaults"},
		{what: "Send one at a time vs the original", num: "Go Send, one at a time", den: "original send, one at a time"},
		{what: fmt.Sprintf("Send from %d goroutines vs the original one at a time", goroutines), num: fmt.Sprintf("Go Send, %d goroutines", goroutines), den: "original send, one at a time"},
		{what: "consumer peak RSS, applying into PostgreSQL, vs the original's", num: pg + "1/tx", den: "original consume and apply, postgres", rss: true, atMost: 1.0 / 3},
		{what: "consumer peak RSS, one-record batches (no-op save), vs the original's applying", num: "Go read and dispatch, one-record batches", den: "original consume and apply, postgres", rss: true, atMost: 1.0 / 3},
		{what: "consumer peak RSS, large batches (no-op save), vs the original's applying", num: "Go read and dispatch, no-op save, 1000/tx", den: "original consume and apply, postgres", rss: true, atMost: 1.0 / 3},
		{what: "outbox end to end (save, outbox.Send, relay) vs save then Producer.Send", num: "Go outbox: save and outbox.Send in the transaction, relayed, postgres", den: "Go save, commit, then Producer.Send, postgres"},
		{what: "Kinesis emulator: Send one at a time vs the original", num: "Kinesis: Go Send, one at a time", den: "Kinesis: original send, one at a time"},
		{what: "Kinesis emulator: consume and apply (SQLite, 1/tx) vs the original", num: "Kinesis: Go consume and apply, sqlite, 1/tx", den: "Kinesis: original consume and apply, sqlite"},
	}
}

// ratio returns a target's ratio and whether both sides were measured.
func (r report) ratio(t target) (float64, bool) {
	a, b := r.stat(t.num), r.stat(t.den)
	if !a.ok || !b.ok {
		return 0, false
	}
	if t.rss {
		return a.rssMed / b.rssMed, b.rssMed > 0
	}
	return a.med / b.med, b.med > 0
}

func (t target) verdict(v float64) string {
	switch {
	case t.atLeast > 0 && v >= t.atLeast:
		return fmt.Sprintf("met (≥ %s)", num(t.atLeast))
	case t.atLeast > 0:
		return fmt.Sprintf("**missed** (≥ %s): %.0f%% of it", num(t.atLeast), 100*v/t.atLeast)
	case t.atMost > 0 && v <= t.atMost:
		return "met (≤ 1/3)"
	case t.atMost > 0:
		return fmt.Sprintf("**missed** (≤ 1/3): %.1f× the limit", v/t.atMost)
	}
	return ""
}

func startRSS(s stat) string {
	if s.startRSS <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", s.startRSS)
}

func num(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f×", v)
	}
	return fmt.Sprintf("%.2f×", v)
}

// thousands formats v with thousands separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	if v < 100 && v != math.Trunc(v) {
		return fmt.Sprintf("%.1f", v)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (r report) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-58s %9s %12s %25s %10s %16s\n", "measurement", "records", "records/s", "min – max", "peak RSS", "RSS at start")
	for _, c := range r.cases {
		s := r.stat(c.name)
		if !s.ok {
			continue
		}
		fmt.Fprintf(&b, "%-58s %9s %12s %25s %7.1f MiB %12s\n", c.name, thousands(float64(c.n)), thousands(s.med),
			thousands(s.min)+" – "+thousands(s.max), s.rssMed, startRSS(s))
	}
	b.WriteString("\nratios (medians of this run)\n")
	for _, t := range r.targets() {
		if v, ok := r.ratio(t); ok {
			fmt.Fprintf(&b, "%-80s %8.2f  %s\n", t.what, v, strings.ReplaceAll(t.verdict(v), "**", ""))
		}
	}
	if lat := r.latencies(); lat != "" {
		b.WriteString("\ncommit-to-send latency (medians of the rounds' p50 and p99)\n" + lat)
	}
	for _, f := range r.failures {
		fmt.Fprintf(&b, "FAILED: %s\n", f)
	}
	fmt.Fprintf(&b, "\n%s; load average at the end %s; %d rounds, %s\n", r.m.line(), r.m.loadEnd, r.o.rounds, r.m.took.Round(1e9))
	return b.String()
}

const (
	mdBegin = "<!-- bench:begin (written by scripts/bench; edit the command, not this section) -->"
	mdEnd   = "<!-- bench:end -->"
)

func (r report) markdown() string {
	var b strings.Builder
	m := r.m
	fmt.Fprintf(&b, "%s\n\nRun of %s on commit %s, `%s`: %d CPUs (%s), %.1f GiB of memory; load average (1, 5, 15 minutes) %s at the start, %s at the end; %d interleaved rounds, %s in all. %s.\n\n",
		mdBegin, m.date.Format("2006-01-02 15:04 MST"), m.commit, strings.Join(append([]string{"scripts/bench"}, r.o.args...), " "),
		m.cpus, m.cpuModel, m.memGiB, m.loadStart, m.loadEnd, r.o.rounds, m.took.Round(1e9), strings.Join(m.versions, ", "))
	b.WriteString("| measurement | records | records/s (median) | min – max | peak RSS (median) | RSS before the work | what bounds it |\n|---|---:|---:|---:|---:|---:|---|\n")
	for _, c := range r.cases {
		s := r.stat(c.name)
		if !s.ok {
			continue
		}
		rate := thousands(s.med)
		spread := thousands(s.min) + " – " + thousands(s.max)
		if c.group == "kinesis" {
			rate, spread = "(emulator)", ""
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1f MiB | %s | %s |\n", c.name, thousands(float64(c.n)), rate, spread, s.rssMed, startRSS(s), c.bound)
	}
	b.WriteString("\n| same-run ratio (medians) | ratio | target |\n|---|---:|---|\n")
	for _, t := range r.targets() {
		v, ok := r.ratio(t)
		if !ok {
			continue
		}
		what := t.what
		if t.comment != "" {
			what += " (" + t.comment + ")"
		}
		fmt.Fprintf(&b, "| %s | %.2f | %s |\n", what, v, t.verdict(v))
	}
	if lat := r.latencies(); lat != "" {
		b.WriteString("\nCommit-to-send latency of the outbox measures (each record's timestamp, set when the producer sends it, minus its transaction's commit; medians of the rounds' p50 and p99):\n\n```\n" + lat + "```\n")
	}
	if len(r.failures) > 0 {
		b.WriteString("\nMeasurements that failed (their medians are of the other rounds):\n\n")
		for _, f := range r.failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	b.WriteString("\n" + mdEnd + "\n")
	return b.String()
}

// writeMarkdown replaces the generated section of path (or appends one).
func (r report) writeMarkdown(path string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	sec := r.markdown()
	i, j := strings.Index(s, mdBegin), strings.Index(s, mdEnd)
	if i >= 0 && j > i {
		s = s[:i] + sec + strings.TrimPrefix(s[j+len(mdEnd):], "\n")
	} else {
		s += "\n" + sec
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// series is one line of a plot: points (x, median) with whiskers from
// min to max.
type series struct {
	label  string
	color  string
	dashed bool // a horizontal reference line at y of its one point
	xs     []float64
	st     []stat
}

func (r report) series(label, color string, xs []float64, names []string) series {
	s := series{label: label, color: color}
	for i, n := range names {
		if st := r.stat(n); st.ok {
			s.xs = append(s.xs, xs[i])
			s.st = append(s.st, st)
		}
	}
	return s
}

// svg draws two panels, both on log scales: consume-and-apply throughput
// against records per transaction, and SendBatch throughput against
// records per call with ProducerPerformance as reference lines.
func (r report) svg() []byte {
	var b bytes.Buffer
	const w, h = 960, 480
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	txs := []float64{1, 10, 100, 1000}
	names := func(db string) []string {
		var n []string
		for _, tx := range txs {
			n = append(n, fmt.Sprintf("Go consume and apply, %s, %.0f/tx", db, tx))
		}
		return n
	}
	left := []series{
		r.series("Go, PostgreSQL", "#1f77b4", txs, names("postgres")),
		r.series("Go, SQLite (WAL, synchronous=FULL)", "#2ca02c", txs, names("sqlite")),
		r.series("original, PostgreSQL (1/tx)", "#d62728", []float64{1}, []string{"original consume and apply, postgres"}),
		r.series("original, SQLite (1/tx)", "#ff7f0e", []float64{1}, []string{"original consume and apply, sqlite"}),
	}
	batches := []float64{100, 1000, 10000}
	right := []series{
		r.series("Go SendBatch", "#1f77b4", batches, []string{"Go SendBatch, 100 a call", "Go SendBatch, 1000 a call", "Go SendBatch, 10000 a call"}),
		r.series("ProducerPerformance, batch.size=1 MiB linger.ms=10", "#9467bd", []float64{100}, []string{"ProducerPerformance, batch.size=1048576 linger.ms=10"}),
		r.series("ProducerPerformance, defaults", "#8c564b", []float64{100}, []string{"ProducerPerformance, defaults"}),
	}
	right[1].dashed, right[2].dashed = true, true
	panel(&b, 60, 40, 380, 300, "consume and apply (records/s) by records per transaction", "records per transaction", txs, left)
	panel(&b, 540, 40, 380, 300, "sending (records/s) by records per SendBatch call", "records per SendBatch call", batches, right)
	fmt.Fprintf(&b, `<text x="10" y="%d" fill="#555">%s; medians of %d rounds, whiskers min–max. %s</text>`+"\n", h-8, esc(r.m.line()), r.o.rounds, "logpipe scripts/bench")
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// panel draws one log-log panel at (x0, y0) of size pw × ph.
func panel(b *bytes.Buffer, x0, y0, pw, ph float64, title, xlabel string, xticks []float64, ss []series) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, st := range s.st {
			lo, hi = math.Min(lo, st.min), math.Max(hi, st.max)
		}
	}
	if math.IsInf(lo, 0) {
		return
	}
	ylo, yhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if yhi == ylo {
		yhi++
	}
	xlo, xhi := math.Log10(xticks[0])-0.3, math.Log10(xticks[len(xticks)-1])+0.3
	px := func(x float64) float64 { return x0 + pw*(math.Log10(x)-xlo)/(xhi-xlo) }
	py := func(y float64) float64 { return y0 + ph - ph*(math.Log10(y)-ylo)/(yhi-ylo) }
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-weight="bold">%s</text>`+"\n", x0, y0-12, esc(title))
	fmt.Fprintf(b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#333"/>`+"\n", x0, y0, pw, ph)
	for e := ylo; e <= yhi; e++ {
		for _, k := range []float64{1, 2, 5} {
			y := k * math.Pow(10, e)
			if math.Log10(y) > yhi+1e-9 {
				break
			}
			fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x0, x0+pw, py(y), py(y))
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#333">%s</text>`+"\n", x0-4, py(y)+4, thousands(y))
		}
	}
	for _, x := range xticks {
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", px(x), px(x), y0, y0+ph)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(x), y0+ph+16, thousands(x))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x0+pw/2, y0+ph+34, esc(xlabel))
	for i, s := range ss {
		ly := y0 + ph + 52 + float64(i)*15
		fmt.Fprintf(b, `<line x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f" stroke="%s" stroke-width="2"%s/>`, x0, x0+20, ly-4, ly-4, s.color, dash(s.dashed))
		fmt.Fprintf(b, `<text x="%.0f" y="%.0f">%s</text>`+"\n", x0+26, ly, esc(s.label))
		if len(s.st) == 0 {
			continue
		}
		if s.dashed {
			y := py(s.st[0].med)
			fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", x0, x0+pw, y, y, s.color, dash(true))
			continue
		}
		var pts []string
		for k, x := range s.xs {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(x), py(s.st[k].med)))
			fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s"/>`+"\n", px(x), px(x), py(s.st[k].min), py(s.st[k].max), s.color)
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", px(x), py(s.st[k].med), s.color)
		}
		if len(pts) > 1 {
			fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), s.color)
		}
	}
}

func dash(d bool) string {
	if d {
		return ` stroke-dasharray="6 4"`
	}
	return ""
}

// latencies lists the commit-to-send latencies of the cases that measure
// them (the outbox's), one line each, or "".
func (r report) latencies() string {
	var b strings.Builder
	for _, c := range r.cases {
		var p50, p99 []float64
		for _, s := range r.results[c.name] {
			if s.p50Ms > 0 {
				p50, p99 = append(p50, s.p50Ms), append(p99, s.p99Ms)
			}
		}
		if len(p50) > 0 {
			fmt.Fprintf(&b, "%-80s p50 %7.1f ms  p99 %7.1f ms\n", c.name, median(p50), median(p99))
		}
	}
	return b.String()
}

package image

import (
	"errors"
	"io"
	"log/slog"
	"time"
)

// progress counts the bytes read from a download body and logs how far it
// got: at every 10% when the size is known, and at least every `every`.
// It also remembers the body's read error, so that a network failure seen
// through the xz and tar readers is reported as a download error.
type progress struct {
	r     io.Reader
	total int64 // -1 when unknown
	done  int64
	err   error // first read error other than io.EOF

	log       *slog.Logger
	every     time.Duration
	start     time.Time
	last      time.Time
	nextTenth int64
}

func newProgress(r io.Reader, total int64, every time.Duration, log *slog.Logger) *progress {
	if every <= 0 {
		every = DefaultProgressEvery
	}
	now := time.Now()
	return &progress{r: r, total: total, log: log, every: every, start: now, last: now, nextTenth: 1}
}

func (p *progress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && p.err == nil {
		p.err = err
	}
	if n > 0 {
		p.report()
	}
	return n, err
}

func (p *progress) report() {
	if p.total > 0 && p.done >= p.total {
		return // finish says it
	}
	now := time.Now()
	tenth := int64(-1)
	if p.total > 0 {
		tenth = p.done * 10 / p.total
	}
	if tenth < p.nextTenth && now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	if tenth >= p.nextTenth {
		p.nextTenth = tenth + 1
	}
	if p.total > 0 {
		p.log.Info("image download progress", "bytes", p.done, "total", p.total, "percent", p.done*100/p.total)
	} else {
		p.log.Info("image download progress", "bytes", p.done)
	}
}

// finish logs the completed download with the checksum of what was read.
func (p *progress) finish(sum string) {
	p.log.Info("image downloaded", "bytes", p.done, "sum", sum, "elapsed", time.Since(p.start).Round(time.Millisecond))
}

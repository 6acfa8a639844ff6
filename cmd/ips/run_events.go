package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ips/dpi"
	"ips/verdict"
)

// eventSink writes NDJSON flow events ("decided", "ended") to a file or to
// a Unix stream socket (unix:PATH; ips connects to a collector listening
// there and reconnects when it goes away). Workers never wait for it: an
// event that finds the buffer full is dropped and counted.
type eventSink struct {
	ch      chan []byte
	dropped atomic.Uint64
	written atomic.Uint64
	done    chan struct{}
	close   sync.Once
	log     *slog.Logger
	// tr, when set, tracks decided flows so that their "ended" comes
	// from conntrack (see flowTracker).
	tr *flowTracker
}

// event is one line: the flow record (replay's fields) with the event
// kind and time in front.
type event struct {
	Event string `json:"event"`
	Time  string `json:"time"`
	*flowRecord
	*flowAcct // ended events: counts, duration (nil: left out)
}

// openEvents starts the sink; an empty spec gives a sink that discards.
func openEvents(spec string, log *slog.Logger) (*eventSink, error) {
	s := &eventSink{ch: make(chan []byte, 4096), done: make(chan struct{}), log: log}
	if spec == "" {
		s.ch = nil
		close(s.done)
		return s, nil
	}
	if path, ok := strings.CutPrefix(spec, "unix:"); ok {
		go s.runUnix(path)
		return s, nil
	}
	f, err := os.OpenFile(spec, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("--events %s: %w (give a writable file or unix:PATH)", spec, err)
	}
	go s.runWriter(f, f.Close)
	return s, nil
}

func (s *eventSink) runWriter(w io.Writer, closeFn func() error) {
	defer close(s.done)
	defer closeFn()
	bw := bufio.NewWriterSize(w, 64<<10)
	for line := range s.ch {
		bw.Write(line)
		s.written.Add(1)
		if len(s.ch) == 0 {
			bw.Flush()
		}
	}
	bw.Flush()
}

func (s *eventSink) runUnix(path string) {
	defer close(s.done)
	var c net.Conn
	var bw *bufio.Writer
	lastTry := time.Time{}
	for line := range s.ch {
		if c == nil && time.Since(lastTry) > time.Second {
			lastTry = time.Now()
			var err error
			if c, err = net.DialTimeout("unix", path, time.Second); err != nil {
				c = nil
			} else {
				bw = bufio.NewWriterSize(c, 64<<10)
			}
		}
		if c == nil {
			s.dropped.Add(1)
			continue
		}
		c.SetWriteDeadline(time.Now().Add(time.Second))
		_, err := bw.Write(line)
		if err == nil && len(s.ch) == 0 {
			err = bw.Flush()
		}
		if err != nil {
			c.Close()
			c = nil
			s.dropped.Add(1)
			continue
		}
		s.written.Add(1)
	}
	if c != nil {
		bw.Flush()
		c.Close()
	}
}

func (s *eventSink) emit(kind string, rec *flowRecord) { s.emitAcct(kind, rec, nil) }

// active reports whether events go anywhere.
func (s *eventSink) active() bool { return s != nil && s.ch != nil }

func (s *eventSink) emitAcct(kind string, rec *flowRecord, a *flowAcct) {
	if s == nil || s.ch == nil {
		return
	}
	b, err := json.Marshal(event{Event: kind, Time: time.Now().UTC().Format(time.RFC3339Nano), flowRecord: rec, flowAcct: a})
	if err != nil {
		return
	}
	select {
	case s.ch <- append(b, '\n'):
	default:
		s.dropped.Add(1)
	}
}

// decision fills the policy fields of a record.
func withDecision(rec *flowRecord, d verdict.Decision) {
	rec.Verdict = d.Action.String()
	if !d.Final {
		rec.Verdict = "undecided"
	}
	rec.Enforced = enforcedField(d)
	id := d.PolicyID
	rec.PolicyID = &id
	rec.Pool = d.Pool
	rec.Explain = d.Explain()
}

// flow reports a flow of the DPI engine (the policy worker's Decided and
// Ended callbacks): replay's record plus verdict, policy_id, pool and
// explain. It runs on the worker goroutine; the record is built here
// because the *dpi.Flow is only valid during the callback.
func (s *eventSink) flow(kind string, f *dpi.Flow, cat *dpi.Catalog, d verdict.Decision) {
	if s == nil {
		return
	}
	if s.tr != nil {
		switch kind {
		case "decided":
			s.tr.decided(f, cat, d)
		case "ended":
			s.tr.userEnded(f, cat, d, "idle")
			return
		}
	}
	if s.ch == nil {
		return
	}
	rec := newRecord(f, cat)
	withDecision(&rec, d)
	s.emit(kind, &rec)
}

// flowEnded reports a flow the DPI engine forgot, and why. With the
// tracker, an undecided flow's "ended" is written now and a decided
// one's when conntrack ends it.
func (s *eventSink) flowEnded(f *dpi.Flow, cat *dpi.Catalog, d verdict.Decision, why dpi.EndReason) {
	if s == nil {
		return
	}
	if s.tr != nil {
		s.tr.userEnded(f, cat, d, why.String())
		return
	}
	s.flow("ended", f, cat, d)
}

// shutdown flushes what is buffered.
func (s *eventSink) shutdown() {
	s.close.Do(func() {
		if s.ch != nil {
			close(s.ch)
		}
	})
	select {
	case <-s.done:
	case <-time.After(2 * time.Second):
	}
}

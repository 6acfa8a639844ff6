package main

import (
	"bufio"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// fakeControl answers each connection's first line with reply (nothing
// when reply is empty: the connection is closed).
func fakeControl(t *testing.T, reply any) string {
	path := filepath.Join(t.TempDir(), "ips.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			if reply != nil && strings.TrimSpace(line) == "status" {
				json.NewEncoder(c).Encode(reply)
			}
			c.Close()
		}
	}()
	return path
}

// TestFindRunning: doctor learns the running daemon's pid and queues from
// the control socket's status; a socket that accepts without a readable
// answer still means a daemon holds it (all queues taken as its own);
// no socket means no daemon.
func TestFindRunning(t *testing.T) {
	var s statusReply
	s.PID, s.KernelPath = 4242, "nft queue"
	s.Queues = []queueStatus{{Queue: 4}, {Queue: 5}}
	r := findRunning(fakeControl(t, s))
	if r == nil || r.pid != 4242 || !r.holds(4) || !r.holds(5) || r.holds(3) || r.holds(6) {
		t.Fatalf("running %+v", r)
	}
	if got := r.String(); !strings.HasPrefix(got, "ips is running (pid 4242, control ") || !strings.HasSuffix(got, ", kernel path nft queue)") {
		t.Errorf("String %q", got)
	}
	if r.who() != "the running ips (pid 4242)" {
		t.Errorf("who %q", r.who())
	}

	r = findRunning(fakeControl(t, nil))
	if r == nil || r.pid != 0 || !r.holds(0) || !r.holds(9) || !strings.Contains(r.String(), "did not read") {
		t.Errorf("mute daemon: %+v %q", r, r)
	}

	if r := findRunning(filepath.Join(t.TempDir(), "none.sock")); r != nil {
		t.Errorf("no socket: %+v", r)
	}
	if r := findRunning(""); r != nil {
		t.Errorf("no path: %+v", r)
	}
}

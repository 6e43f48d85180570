package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStalledClientsAreDropped: a client that sends part of its headers,
// or its headers and one byte of a body, is disconnected once the read
// timeouts pass, instead of holding its connection for ever.
func TestStalledClientsAreDropped(t *testing.T) {
	addr := freeAddr(t)
	vars := serveEnv(t, addr, env.DatabaseURL)
	vars["WEBHOOKDB_READ_HEADER_TIMEOUT"] = "500ms"
	vars["WEBHOOKDB_READ_TIMEOUT"] = "1s"
	vars["WEBHOOKDB_WRITE_TIMEOUT"] = "2s"
	vars["WEBHOOKDB_SHUTDOWN_TIMEOUT"] = "2s"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() { done <- Run(ctx, []string{"web"}, Env{Stderr: &stderr, Getenv: envMap(vars)}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("web did not stop")
		}
	})
	waitStatus(t, "http://"+addr+"/readyz", http.StatusOK)

	head := "POST /replication HTTP/1.1\r\nHost: " + addr + "\r\nX-GitHub-Event: ping\r\nX-GitHub-Delivery: stalled\r\nContent-Type: application/json\r\n"
	tests := []struct {
		name string
		sent string
	}{
		{"half the headers", head},
		{"signed headers and one byte of body", head + "X-Hub-Signature-256: sha256=00\r\nContent-Length: 100\r\n\r\n{"},
		{"unsigned headers and one byte of body", head + "Content-Length: 100\r\n\r\n{"},
		{"chunked, one byte of body", head + "X-Hub-Signature-256: sha256=00\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{"},
	}
	const perCase = 20
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, perCase)
			start := time.Now()
			for range perCase {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- stallAndWaitForClose(addr, tt.sent, 10*time.Second)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			// 1 s of read timeout, with room for a slow machine, but far
			// from the 10 s a server without timeouts would run into.
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("stalled connections lasted %s", elapsed)
			}
		})
	}
}

// stallAndWaitForClose sends sent and nothing more, then reads until the
// server closes the connection; it fails if that takes longer than bound.
func stallAndWaitForClose(addr, sent string, bound time.Duration) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, sent); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(bound)); err != nil {
		return fmt.Errorf("deadline: %w", err)
	}
	// The server may answer (400, 401, 408) before it hangs up; only the
	// hang-up counts.
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("connection still open after %s", bound)
	}
	return nil
}

// TestServeMemoryUnderLargeBodies is the acceptance of the body limits:
// the real `serve` process stays under 200 MiB of peak resident memory
// while 50 clients post unsigned 25 MiB bodies (refused unread) and 50
// more post 25 MiB bodies with a wrong signature (read, within the
// in-flight budget, or refused with 503).
func TestServeMemoryUnderLargeBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary, and sends 2.5 GB")
	}
	const (
		clients  = 50
		bodySize = 25 << 20
		limit    = 200 << 20
	)
	cmd, addr, _ := startServe(t)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	before, err := peakRSS(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}

	// One body shared by every client: the test's own memory stays small.
	body := bytes.Repeat([]byte(" "), bodySize)
	copy(body, `{"zen":"`)
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	var mu sync.Mutex
	codes := map[string]map[int]int{"unsigned": {}, "bad signature": {}}
	transportErrs := map[string]int{}
	var wg sync.WaitGroup
	for i := range 2 * clients {
		kind := "unsigned"
		if i%2 == 1 {
			kind = "bad signature"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/replication", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", "issues")
			req.Header.Set("X-GitHub-Delivery", "memory-"+strconv.Itoa(i))
			if kind == "bad signature" {
				req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
			}
			res, err := client.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				// A server that answers before the body is sent hangs up
				// on the rest; the client may see that instead.
				transportErrs[kind]++
				return
			}
			res.Body.Close()
			codes[kind][res.StatusCode]++
		}()
	}
	wg.Wait()
	peak, err := peakRSS(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("peak RSS %d MiB (%d MiB before); answers %v; transport errors %v", peak>>20, before>>20, codes, transportErrs)
	if peak >= limit {
		t.Errorf("peak RSS %d MiB, want under %d MiB", peak>>20, limit>>20)
	}
	for code := range codes["unsigned"] {
		if code != http.StatusUnauthorized {
			t.Errorf("an unsigned body was answered %d, want 401", code)
		}
	}
	for code := range codes["bad signature"] {
		if code != http.StatusUnauthorized && code != http.StatusServiceUnavailable {
			t.Errorf("a wrongly signed body was answered %d, want 401 or 503", code)
		}
	}
	if codes["bad signature"][http.StatusUnauthorized] == 0 {
		t.Errorf("no wrongly signed body was read and refused: %v", codes)
	}
	// Still serving, and refusing bodies cost it nothing lasting.
	waitStatus(t, "http://"+addr+"/readyz", http.StatusOK)
}

// peakRSS is the peak resident memory of a process (VmHWM), in bytes.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read process status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read process status: %w", err)
	}
	return 0, errors.New("no VmHWM in the process status")
}

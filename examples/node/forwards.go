package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"sync"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// forwardsFile is the forwarding history, in the network's directory.
const forwardsFile = "forwards.jsonl"

// forwardLog is the node's forwarding history (forwardinghistory): one JSON line per PaymentForwarded,
// appended with a single write and synced before the event is taken as handled, so that a forward the
// manager reported is on disk before the manager forgets the event. After a crash the file is cut
// back to its last complete line (a torn append); a forward whose event the manager re-delivers
// because it had not persisted that the event was handled is recorded twice (the event carries no
// identifier to tell the two apart).
type forwardLog struct {
	mu   sync.Mutex
	path string
	f    *os.File
	recs []nodeapi.Forward
}

// openForwardLog reads path (if it exists), drops a torn last line and opens it for appending. It
// returns how many complete lines it could not read (skipped; the caller logs them).
func openForwardLog(path string) (l *forwardLog, unreadable int, err error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, 0, err
	}
	l = &forwardLog{path: path}
	complete := data[:bytes.LastIndexByte(data, '\n')+1]
	for line := range bytes.Lines(complete) {
		var rec nodeapi.Forward
		if err := json.Unmarshal(line, &rec); err != nil {
			unreadable++
			continue
		}
		l.recs = append(l.recs, rec)
	}
	l.f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, 0, err
	}
	if len(complete) < len(data) {
		// A torn append: cut it off so that the next line starts on its own.
		if err := l.f.Truncate(int64(len(complete))); err != nil {
			_ = l.f.Close()
			return nil, 0, err
		}
	}
	if _, err := l.f.Seek(0, io.SeekEnd); err != nil {
		_ = l.f.Close()
		return nil, 0, err
	}
	return l, unreadable, nil
}

// add appends a forward and syncs the file.
func (l *forwardLog) add(rec nodeapi.Forward) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("forwarding history closed")
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return err
	}
	if err := l.f.Sync(); err != nil {
		return err
	}
	l.recs = append(l.recs, rec)
	return nil
}

// history lists the forwards, oldest first (the limit most recent when limit > 0), with totals over
// those listed.
func (l *forwardLog) history(limit uint32) *nodeapi.ForwardingHistoryResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	recs := l.recs
	if limit > 0 && int(limit) < len(recs) {
		recs = recs[len(recs)-int(limit):]
	}
	res := &nodeapi.ForwardingHistoryResult{Forwards: append([]nodeapi.Forward{}, recs...), NumForwards: len(recs),
		TotalForwards: len(l.recs)}
	for _, r := range recs {
		res.TotalAmountInMsat += r.AmountInMsat
		res.TotalAmountOutMsat += r.AmountOutMsat
		res.TotalFeeMsat += r.FeeMsat
	}
	return res
}

func (l *forwardLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
}

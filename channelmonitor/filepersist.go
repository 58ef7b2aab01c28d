package channelmonitor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/keys"
)

// FilesystemPersister stores each channel's monitor in a directory of its own under Dir:
//
//	<funding txid>_<output index>/monitor   the full monitor, replaced atomically
//	<funding txid>_<output index>/updates   updates applied since, appended one record at a time
//
// Every write is made durable before the call returns (Completed): a snapshot is written to a
// temporary file, fsynced, renamed over the old one, and the directory fsynced; an update record (u32
// length, u32 CRC-32C, data) is appended and fsynced. After SnapshotEvery updates, once the log is at
// least half the snapshot's size, the monitor is snapshotted again and the log removed. A torn record at the end of the log (a crash mid-append) is
// ignored on reading, which is safe: its update was never reported complete. Safe for concurrent use.
type FilesystemPersister struct {
	Dir string
	// SnapshotEvery is how many update records accumulate before a new snapshot. Default 64.
	SnapshotEvery int
	// NoSync skips fsync (for benchmarks that measure everything but the disk). Never in production.
	NoSync bool

	mu    sync.Mutex
	locks map[wire.OutPoint]*chanFiles
}

type chanFiles struct {
	mu        sync.Mutex
	log       *os.File
	records   int
	logBytes  int // bytes appended to the log since the last snapshot
	snapBytes int // size of the last snapshot
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// NewFilesystemPersister creates the directory if needed.
func NewFilesystemPersister(dir string) (*FilesystemPersister, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &FilesystemPersister{Dir: dir, SnapshotEvery: 64, locks: map[wire.OutPoint]*chanFiles{}}, nil
}

func (p *FilesystemPersister) chanDir(op wire.OutPoint) string {
	return filepath.Join(p.Dir, op.Hash.String()+"_"+strconv.FormatUint(uint64(op.Index), 10))
}

func (p *FilesystemPersister) files(op wire.OutPoint) *chanFiles {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.locks[op]
	if f == nil {
		f = &chanFiles{}
		p.locks[op] = f
	}
	return f
}

func (p *FilesystemPersister) sync(f *os.File) error {
	if p.NoSync {
		return nil
	}
	return f.Sync()
}

// writeAtomic writes data to path through a temporary file, fsync and rename, then fsyncs the directory.
func (p *FilesystemPersister) writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := p.sync(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return p.syncDir(dir)
}

func (p *FilesystemPersister) syncDir(dir string) error {
	if p.NoSync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// snapshot writes the full monitor and drops the update log. The caller holds f.mu.
func (p *FilesystemPersister) snapshot(op wire.OutPoint, f *chanFiles, mon *ChannelMonitor) error {
	dir := p.chanDir(op)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	data := mon.Write()
	if err := p.writeAtomic(filepath.Join(dir, "monitor"), data); err != nil {
		return err
	}
	f.snapBytes, f.logBytes = len(data), 0
	if f.log != nil {
		f.log.Close()
		f.log = nil
	}
	f.records = 0
	if err := os.Remove(filepath.Join(dir, "updates")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return p.syncDir(dir)
}

// PersistNewChannel implements Persist.
func (p *FilesystemPersister) PersistNewChannel(op wire.OutPoint, mon *ChannelMonitor) ChannelMonitorUpdateStatus {
	f := p.files(op)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := p.snapshot(op, f, mon); err != nil {
		return UnrecoverableError
	}
	return Completed
}

// UpdatePersistedChannel implements Persist.
func (p *FilesystemPersister) UpdatePersistedChannel(op wire.OutPoint, u *ChannelMonitorUpdate, mon *ChannelMonitor) ChannelMonitorUpdateStatus {
	f := p.files(op)
	f.mu.Lock()
	defer f.mu.Unlock()
	every := p.SnapshotEvery
	if every <= 0 {
		every = 64
	}
	// Snapshot after SnapshotEvery records, but not before the log is half the snapshot's size: a
	// monitor grows with the channel's history (revoked commitments with HTLCs), and snapshotting it at
	// a fixed interval would make each update cost more as it grows. This way the snapshot's cost is
	// spread over updates worth half its size, and an update costs O(its own size) amortised.
	if u == nil || f.records >= every && 2*f.logBytes >= f.snapBytes {
		if err := p.snapshot(op, f, mon); err != nil {
			return UnrecoverableError
		}
		return Completed
	}
	if f.log == nil {
		dir := p.chanDir(op)
		lf, err := os.OpenFile(filepath.Join(dir, "updates"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return UnrecoverableError
		}
		f.log = lf
		if err := p.syncDir(dir); err != nil {
			return UnrecoverableError
		}
	}
	data := u.Encode()
	rec := make([]byte, 8, 8+len(data))
	binary.BigEndian.PutUint32(rec[0:4], uint32(len(data)))
	binary.BigEndian.PutUint32(rec[4:8], crc32.Checksum(data, crcTable))
	rec = append(rec, data...)
	if _, err := f.log.Write(rec); err != nil {
		return UnrecoverableError
	}
	if err := p.sync(f.log); err != nil {
		return UnrecoverableError
	}
	f.records++
	f.logBytes += len(rec)
	return Completed
}

// ArchivePersistedChannel implements ArchivePersist: the channel's directory moves to
// <Dir>/archive/, out of ReadChannelMonitors' way but kept for inspection.
func (p *FilesystemPersister) ArchivePersistedChannel(op wire.OutPoint) error {
	f := p.files(op)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.log != nil {
		f.log.Close()
		f.log = nil
	}
	archive := filepath.Join(p.Dir, "archive")
	if err := os.MkdirAll(archive, 0o700); err != nil {
		return err
	}
	src := p.chanDir(op)
	if err := os.Rename(src, filepath.Join(archive, filepath.Base(src))); err != nil {
		return err
	}
	if err := p.syncDir(archive); err != nil {
		return err
	}
	return p.syncDir(p.Dir)
}

// Close closes open log files.
func (p *FilesystemPersister) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.locks {
		f.mu.Lock()
		if f.log != nil {
			f.log.Close()
			f.log = nil
		}
		f.mu.Unlock()
	}
	return nil
}

// ReadChannelMonitors reads every stored monitor, replaying its update log. signerProvider re-derives
// the channel signers (keys.KeysManager). Errors: ErrCorrupt (wrapped with the channel's directory).
func (p *FilesystemPersister) ReadChannelMonitors(signerProvider keys.SignerProvider) ([]*ChannelMonitor, error) {
	entries, err := os.ReadDir(p.Dir)
	if err != nil {
		return nil, err
	}
	var out []*ChannelMonitor
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() && strings.Contains(e.Name(), "_") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		txid, idx, _ := strings.Cut(name, "_")
		h, err := chainhash.NewHashFromStr(txid)
		if err != nil {
			continue
		}
		index, err := strconv.ParseUint(idx, 10, 32)
		if err != nil {
			continue
		}
		dir := filepath.Join(p.Dir, name)
		data, err := os.ReadFile(filepath.Join(dir, "monitor"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		mon, err := ReadChannelMonitor(data, signerProvider)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if mon.params.FundingOutPoint != (wire.OutPoint{Hash: *h, Index: uint32(index)}) {
			return nil, fmt.Errorf("%s: %w: monitor is for another channel", name, ErrCorrupt)
		}
		if err := replayLog(filepath.Join(dir, "updates"), mon); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, mon)
	}
	return out, nil
}

// replayLog applies the logged updates newer than the monitor's.
func replayLog(path string, mon *ChannelMonitor) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for len(data) >= 8 {
		n := binary.BigEndian.Uint32(data[0:4])
		sum := binary.BigEndian.Uint32(data[4:8])
		if uint64(n) > uint64(len(data)-8) {
			break // torn final record
		}
		rec := data[8 : 8+n]
		if crc32.Checksum(rec, crcTable) != sum {
			break
		}
		data = data[8+n:]
		u, err := DecodeChannelMonitorUpdate(rec)
		if err != nil {
			return err
		}
		if u.UpdateID <= mon.LatestUpdateID() {
			continue
		}
		if err := mon.Update(u); err != nil {
			return err
		}
	}
	return nil
}

var _ io.Closer = (*FilesystemPersister)(nil)

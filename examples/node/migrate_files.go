package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/examples/node/wallet"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/kvstore"
)

// The files of a datadir from before the store (<datadir>/<network>/...), and where migrateFiles moves
// them once their content is in the store.
const (
	legacyManagerFile  = "channel_manager.bin"
	legacyMonitorsDir  = "monitors"
	legacyWalletDir    = "wallet"
	legacyPaymentsFile = "payments.jsonl"
	legacyForwardsFile = "forwards.jsonl"
	legacyPeersFile    = "peers.json"
	legacyTipFile      = "chaintip"
	legacyCloseFile    = "close_address"
	legacyGraphFile    = "graph"
	legacyScorerFile   = "scorer"
	legacyMovedDir     = "pre-store"
)

var legacyFiles = []string{legacyManagerFile, legacyMonitorsDir, legacyWalletDir, legacyPaymentsFile, legacyForwardsFile,
	legacyPeersFile, legacyTipFile, legacyCloseFile, legacyGraphFile, legacyScorerFile}

// legacyState is the part of a pre-store datadir that openState copies itself, once the wallet and
// the keys exist: the monitors (written into the store with the KVStorePersister) and the manager's
// snapshot (read with channelmanager.Read, written with PersistAllTo).
type legacyState struct {
	dir     string
	manager []byte // nil if there is none
}

// migrateFiles copies the state of a datadir written before the node kept everything in a store (the
// files above) into the store, once. It copies what needs no keys (the chain tip, the close address,
// the known peers, the graph and scorer snapshots, the wallet's state, the payment and invoice records
// and the forwarding history) and returns the rest for openState, which then calls finish: finish
// records that the copy is complete (keyFilesMigrated) and moves the files to <dir>/pre-store. A crash
// before that leaves the files in place and the copy is made again from them at the next start (every
// write replaces); once the key is set, the files are only moved. It returns nil when there is
// nothing to copy.
func (n *Node) migrateFiles() (*legacyState, error) {
	var present []string
	for _, f := range legacyFiles {
		if _, err := os.Stat(filepath.Join(n.dir, f)); err == nil {
			present = append(present, f)
		}
	}
	if len(present) == 0 {
		return nil, nil
	}
	done, err := readKey(n.kv, keyFilesMigrated)
	if err != nil {
		return nil, err
	}
	legacy := &legacyState{dir: n.dir}
	if done != nil {
		return nil, legacy.moveFiles(n)
	}
	n.log.Info("copying the datadir's files into the store", "files", present)
	raw := map[string]kvstore.Key{legacyTipFile: keyTip, legacyCloseFile: keyCloseAddr, legacyPeersFile: keyPeers,
		legacyGraphFile: graphKey, legacyScorerFile: scorerKey,
		filepath.Join(legacyWalletDir, wallet.StateFileName): keyWallet}
	for name, k := range raw {
		b, err := os.ReadFile(filepath.Join(n.dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if name == legacyTipFile || name == legacyCloseFile {
			b = bytes.TrimSpace(b)
		}
		if err := n.kv.Write(k, b); err != nil {
			return nil, err
		}
	}
	if err := copyLegacyRecords(n.kv, filepath.Join(n.dir, legacyPaymentsFile)); err != nil {
		return nil, fmt.Errorf("%s: %w", legacyPaymentsFile, err)
	}
	if err := copyLegacyForwards(n.kv, filepath.Join(n.dir, legacyForwardsFile)); err != nil {
		return nil, fmt.Errorf("%s: %w", legacyForwardsFile, err)
	}
	legacy.manager, err = os.ReadFile(filepath.Join(n.dir, legacyManagerFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return legacy, nil
}

// monitors reads the FilesystemPersister's monitors and writes each into the node's persister, in
// full.
func (l *legacyState) monitors(n *Node) ([]*channelmonitor.ChannelMonitor, error) {
	dir := filepath.Join(l.dir, legacyMonitorsDir)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	fp, err := channelmonitor.NewFilesystemPersister(dir)
	if err != nil {
		return nil, err
	}
	defer fp.Close()
	mons, err := fp.ReadChannelMonitors(n.keys)
	if err != nil {
		return nil, err
	}
	for _, m := range mons {
		if st := n.persister.PersistNewChannel(m.FundingTxo(), m); st != channelmonitor.Completed {
			return nil, fmt.Errorf("writing monitor %s into the store failed (%v)", m.FundingTxo(), st)
		}
	}
	return mons, nil
}

// finish records that the copy is complete and moves the files aside.
func (l *legacyState) finish(n *Node) error {
	if err := n.kv.Write(keyFilesMigrated, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
		return err
	}
	n.log.Info("the datadir's files are in the store; moved to " + filepath.Join(l.dir, legacyMovedDir))
	return l.moveFiles(n)
}

// moveFiles moves what is left of the legacy files to <dir>/pre-store (kept, not deleted: a backup).
func (l *legacyState) moveFiles(n *Node) error {
	to := filepath.Join(l.dir, legacyMovedDir)
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	for _, f := range legacyFiles {
		from := filepath.Join(l.dir, f)
		if _, err := os.Stat(from); err != nil {
			continue
		}
		dst := filepath.Join(to, f)
		if _, err := os.Stat(dst); err == nil {
			dst += "." + time.Now().UTC().Format("20060102T150405")
		}
		if err := os.Rename(from, dst); err != nil {
			return err
		}
	}
	return syncDir(l.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// legacyRecordLine is one line of payments.jsonl: a payment or an invoice; the last line for a key
// wins.
type legacyRecordLine struct {
	Payment *nodeapi.Payment `json:"payment,omitempty"`
	Invoice *nodeapi.Invoice `json:"invoice,omitempty"`
}

// copyLegacyRecords writes the payments and invoices of payments.jsonl into kv, one key each (a torn
// or unreadable line is skipped, as the file's reader did).
func copyLegacyRecords(kv kvstore.KVStore, path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	payments := map[string]*nodeapi.Payment{}
	invoices := map[string]*nodeapi.Invoice{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var l legacyRecordLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		if l.Payment != nil {
			payments[l.Payment.PaymentID] = l.Payment
		}
		if l.Invoice != nil {
			invoices[l.Invoice.PaymentHash] = l.Invoice
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	var b kvstore.Batch
	for id, p := range payments {
		v, _ := json.Marshal(p)
		b.Put(recordKey(nsPayments, id), v)
	}
	for hash, inv := range invoices {
		v, _ := json.Marshal(inv)
		b.Put(recordKey(nsInvoices, hash), v)
	}
	if len(b.Ops) == 0 {
		return nil
	}
	return kv.Commit(&b)
}

// copyLegacyForwards writes the forwards of forwards.jsonl into kv, keyed by their timestamp (seconds)
// plus their line number in nanoseconds, so that they keep their order.
func copyLegacyForwards(kv kvstore.KVStore, path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var b kvstore.Batch
	var last int64
	i := int64(0)
	for line := range bytes.Lines(data[:bytes.LastIndexByte(data, '\n')+1]) {
		var rec nodeapi.Forward
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		i++
		ns := max(rec.Timestamp*int64(time.Second)+i, last+1)
		last = ns
		v, _ := json.Marshal(rec)
		b.Put(forwardKey(ns), v)
	}
	if len(b.Ops) == 0 {
		return nil
	}
	return kv.Commit(&b)
}

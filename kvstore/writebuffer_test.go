package kvstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"sync/atomic"
	"testing"

	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/kvstore/kvstoretest"
)

// flushEvery is a WriteBuffer whose host flushes after every n-th change (1: after each, which makes
// it a durable store again; 0: never).
type flushEvery struct {
	*kvstore.WriteBuffer
	n       int64
	changes atomic.Int64
}

func (f *flushEvery) after(err error) error {
	if err != nil || f.n == 0 || f.changes.Add(1)%f.n != 0 {
		return err
	}
	return f.Flush()
}

func (f *flushEvery) Write(k kvstore.Key, v []byte) error { return f.after(f.WriteBuffer.Write(k, v)) }
func (f *flushEvery) Remove(k kvstore.Key) error          { return f.after(f.WriteBuffer.Remove(k)) }
func (f *flushEvery) Commit(b *kvstore.Batch) error       { return f.after(f.WriteBuffer.Commit(b)) }

// The contract holds for the buffer's view whether its changes are flushed after each call, every
// third call or never; flushed after each, they are durable in the store beneath.
func TestWriteBufferConformance(t *testing.T) {
	for _, n := range []int64{1, 3, 0} {
		t.Run(fmt.Sprintf("flushEvery=%d", n), func(t *testing.T) {
			f := kvstoretest.Factory{Open: func(*testing.T) kvstore.KVStore {
				return &flushEvery{WriteBuffer: kvstore.NewWriteBuffer(kvstore.NewMemStore()), n: n}
			}}
			if n == 1 {
				f.Reopen = func(_ *testing.T, s kvstore.KVStore, _ bool) kvstore.KVStore {
					inner := kvstore.NewMemStore()
					copyStore(t, s.(*flushEvery).WriteBuffer, inner)
					return &flushEvery{WriteBuffer: kvstore.NewWriteBuffer(inner), n: 1}
				}
			}
			kvstoretest.Run(t, f)
		})
	}
}

// copyStore copies what the buffer's store holds (its flushed state: the buffer has nothing held)
// into to, versions aside.
func copyStore(t *testing.T, from *kvstore.WriteBuffer, to kvstore.KVStore) {
	t.Helper()
	if from.Pending() != 0 {
		t.Fatalf("%d operations held", from.Pending())
	}
	keys, err := from.ListAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		v, ver, err := from.Read(k)
		if err != nil {
			t.Fatal(err)
		}
		for i := uint64(0); i < ver; i++ { // the same version in the copy
			if err := to.Write(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Against a model (a MemStore applying every change at once): random writes, removes and batches with
// checks, flushed at random points. The buffer's view equals the model at every step, values and
// versions; after each flush the store beneath equals it too.
func TestWriteBufferModel(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewSource(seed))
		inner, model := kvstore.NewMemStore(), kvstore.NewMemStore()
		w := kvstore.NewWriteBuffer(inner)
		keys := []kvstore.Key{{Primary: "a", Key: "1"}, {Primary: "a", Key: "2"}, {Primary: "a", Secondary: "x", Key: "3"}, {Key: "4"}}
		for step := 0; step < 400; step++ {
			var b kvstore.Batch
			for i := 0; i < 1+r.Intn(3); i++ {
				k := keys[r.Intn(len(keys))]
				switch r.Intn(4) {
				case 0:
					b.Remove(k)
				case 1:
					_, ver, _ := model.Read(k)
					if r.Intn(4) == 0 {
						ver++ // a stale version: the batch must fail in both
					}
					b.Check(k, ver)
				default:
					b.Put(k, []byte(fmt.Sprint(seed, step, i)))
				}
			}
			errW, errM := w.Commit(&b), model.Commit(&b)
			if errors.Is(errW, kvstore.ErrVersionMismatch) != errors.Is(errM, kvstore.ErrVersionMismatch) {
				t.Fatalf("seed %d step %d: buffer %v, model %v", seed, step, errW, errM)
			}
			sameView(t, w, model, keys)
			if r.Intn(5) == 0 {
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				if w.Pending() != 0 {
					t.Fatal("held after a flush")
				}
				sameView(t, inner, model, keys)
			}
		}
	}
}

// sameView checks that s shows what model holds: each key's value and version, and the listings.
func sameView(t *testing.T, s, model kvstore.KVStore, keys []kvstore.Key) {
	t.Helper()
	for _, k := range keys {
		v1, ver1, err1 := s.Read(k)
		v2, ver2, err2 := model.Read(k)
		if !bytes.Equal(v1, v2) || ver1 != ver2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("%s: have %q v%d (%v), model %q v%d (%v)", k, v1, ver1, err1, v2, ver2, err2)
		}
	}
	l1, _ := s.ListAll()
	l2, _ := model.ListAll()
	if fmt.Sprint(l1) != fmt.Sprint(l2) {
		t.Fatalf("ListAll: have %v, model %v", l1, l2)
	}
	n1, _ := s.List("a", "")
	n2, _ := model.List("a", "")
	if fmt.Sprint(n1) != fmt.Sprint(n2) {
		t.Fatalf("List: have %v, model %v", n1, n2)
	}
}

// failingStore fails its next Commit when told to.
type failingStore struct {
	kvstore.KVStore
	fail bool
}

var errDisk = errors.New("disk on fire")

func (f *failingStore) Commit(b *kvstore.Batch) error {
	if f.fail {
		f.fail = false
		return errDisk
	}
	return f.KVStore.Commit(b)
}

// Nothing is in the store before a flush; a failed flush keeps its changes held, ahead of newer ones,
// and the next flush commits them all in order.
func TestWriteBufferFlushFailure(t *testing.T) {
	inner := &failingStore{KVStore: kvstore.NewMemStore()}
	w := kvstore.NewWriteBuffer(inner)
	k := kvstore.Key{Primary: "p", Key: "k"}
	must(t, w.Write(k, []byte("1")))
	if _, _, err := inner.Read(k); !errors.Is(err, kvstore.ErrNotFound) {
		t.Fatalf("the store has a held write: %v", err)
	}
	inner.fail = true
	if err := w.Flush(); !errors.Is(err, errDisk) {
		t.Fatalf("flush: %v", err)
	}
	must(t, w.Write(k, []byte("2")))
	if v, ver, _ := w.Read(k); string(v) != "2" || ver != 2 {
		t.Fatalf("held view %q v%d", v, ver)
	}
	must(t, w.Flush())
	if v, ver, _ := inner.Read(k); string(v) != "2" || ver != 2 {
		t.Fatalf("store %q v%d, want \"2\" v2", v, ver)
	}
}

// A check of a key with no held change goes to the store with the flush: a second writer that changed
// the key meanwhile makes the flush fail, and nothing of it is applied (the standby's fencing).
func TestWriteBufferFencing(t *testing.T) {
	inner := kvstore.NewMemStore()
	lease, data := kvstore.Key{Primary: "lease", Key: "leader"}, kvstore.Key{Primary: "p", Key: "d"}
	must(t, inner.Write(lease, []byte("me")))
	w := kvstore.NewWriteBuffer(inner)
	var b kvstore.Batch
	must(t, w.Commit(b.Check(lease, 1).Put(data, []byte("x"))))
	must(t, inner.Write(lease, []byte("standby"))) // the standby takes the lease over
	if err := w.Flush(); !errors.Is(err, kvstore.ErrVersionMismatch) {
		t.Fatalf("flush after the lease moved: %v", err)
	}
	if _, _, err := inner.Read(data); !errors.Is(err, kvstore.ErrNotFound) {
		t.Fatalf("a fenced write reached the store: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

package kvstore_test

import (
	"testing"

	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/kvstore/kvstoretest"
)

func TestMemStoreConformance(t *testing.T) {
	kvstoretest.Run(t, kvstoretest.Factory{Open: func(*testing.T) kvstore.KVStore { return kvstore.NewMemStore() }})
}

module github.com/lnkit/lnkit/examples/signer

go 1.26.0

require (
	github.com/btcsuite/btcd v0.24.2
	github.com/btcsuite/btcd/btcec/v2 v2.3.5
	github.com/btcsuite/btcd/btcutil v1.1.6
	github.com/lnkit/lnkit v0.0.0
	github.com/lnkit/lnkit/examples/node v0.0.0
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/btcsuite/btcd/chaincfg/chainhash v1.1.0 // indirect
	github.com/btcsuite/btclog v0.0.0-20170628155309-84c8d2346e9f // indirect
	github.com/decred/dcrd/crypto/blake256 v1.1.0 // indirect
	github.com/decred/dcrd/dcrec/secp256k1/v4 v4.4.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/lnkit/lnkit => ../..

replace github.com/lnkit/lnkit/examples/node => ../node

// examples/node requires github.com/lnkit/lnkit/stores, which is not published either.
replace github.com/lnkit/lnkit/stores => ../../stores

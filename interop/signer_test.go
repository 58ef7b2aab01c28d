//go:build interop

package interop

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
)

// keyless reports whether the suite runs every lnkit node keyless, behind its own lnkit-signer
// (LNKIT_INTEROP_SIGNER=1): the node holds no private key; the signer holds the seed and checks every
// request with keys/policy (-allow-unapproved and -max-push-msat: the suite pays and pushes without a
// user's approvals).
func keyless() bool { return os.Getenv("LNKIT_INTEROP_SIGNER") == "1" }

// signerBin is the lnkit-signer binary, built next to the node's when keyless.
var signerBin string

// signers are the running signers, stopped at teardown.
var signers struct {
	mu    sync.Mutex
	procs []*proc
}

// buildSigner builds lnkit-signer into dir.
func buildSigner(root, dir string) error {
	signerBin = filepath.Join(dir, "lnkit-signer")
	cmd := exec.Command("go", "build", "-o", signerBin, ".")
	cmd.Dir = filepath.Join(root, "examples", "signer")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build lnkit-signer: %v\n%s", err, bytes.TrimSpace(out))
	}
	return nil
}

// signerArgs starts n's signer if it is not running (its datadir is n.dir + "-signerdata"; the node's link
// key is created in n.dir first) and returns the node's flags for it.
func (n *lnkitNode) signerArgs() ([]string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.signer != nil {
		if done, _ := n.signer.exited(); !done {
			return n.signerFlags, nil
		}
	}
	if err := os.MkdirAll(n.dir, 0o700); err != nil {
		return nil, err
	}
	keyPath := filepath.Join(n.dir, "signer_link_key")
	raw, err := os.ReadFile(keyPath)
	if os.IsNotExist(err) {
		raw = make([]byte, 32)
		_, _ = rand.Read(raw)
		err = os.WriteFile(keyPath, raw, 0o600)
	}
	if err != nil {
		return nil, err
	}
	nodeKey, _ := btcec.PrivKeyFromBytes(raw)
	dir := n.dir + "-signerdata"
	// A first run creates the seed and the signer's link key and prints the latter.
	out, _ := exec.Command(signerBin, "-datadir", dir).CombinedOutput()
	m := regexp.MustCompile(`signer link key: ([0-9a-f]{66})`).FindSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("lnkit-signer printed no link key:\n%s", out)
	}
	if n.signerAddr == "" {
		n.signerAddr = ports.next()
	}
	args := append([]string{"-datadir", dir, "-listen", n.signerAddr, "-network", "regtest", "-allow-unapproved",
		"-max-push-msat", "1000000000000", "-node-link-key", hex.EncodeToString(nodeKey.PubKey().SerializeCompressed())},
		n.signerExtra...)
	p, err := startProc(n.name+"-signer", filepath.Join(dir, "signer.log"), signerBin, args...)
	if err != nil {
		return nil, err
	}
	if err := poll(30*time.Second, func() (bool, string) {
		if done, err := p.exited(); done {
			return true, fmt.Sprintf("exited: %v", err)
		}
		c, err := net.DialTimeout("tcp", n.signerAddr, time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	}); err != nil {
		p.kill()
		return nil, fmt.Errorf("%s's signer did not start: %w\n%s", n.name, err, logTail(filepath.Join(dir, "signer.log"), 20))
	}
	signers.mu.Lock()
	signers.procs = append(signers.procs, p)
	signers.mu.Unlock()
	n.signer = p
	n.signerFlags = []string{"-signer", n.signerAddr, "-signer-pubkey", string(m[1])}
	return n.signerFlags, nil
}

// StopSigner stops n's signer (SIGTERM); the next start of the node, or RestartSigner, starts it again.
func (n *lnkitNode) StopSigner() {
	n.mu.Lock()
	p := n.signer
	n.mu.Unlock()
	if p != nil {
		p.stop(10 * time.Second)
	}
}

// RestartSigner starts n's signer again (same datadir, seed, policy state and port).
func (n *lnkitNode) RestartSigner() error {
	_, err := n.signerArgs()
	return err
}

// stopSigners stops every signer (teardown).
func stopSigners() {
	signers.mu.Lock()
	procs := signers.procs
	signers.procs = nil
	signers.mu.Unlock()
	for _, p := range procs {
		p.stop(10 * time.Second)
	}
}

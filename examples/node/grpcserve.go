package main

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/lnkit/lnkit/examples/node/grpcapi"
	"github.com/lnkit/lnkit/examples/nodeapi"
)

// The gRPC control API (-grpclisten, off by default): grpcapi serving the same Service and cookie
// token as the JSON-RPC control API, on a listener of its own, started and stopped with it by
// rpcComponent.
//
// Off by default: it is a second way into the node that most users do not need, and a fixed default
// port would collide between nodes on one host (as -rpclisten's per-network defaults are chosen to
// avoid); 127.0.0.1:10019 is the suggested address.

// checkGRPCListen refuses a -grpclisten that is not a loopback "host:port" (as runDaemon refuses for
// -rpclisten), or given while the control API is off (it shares the control API's cookie).
func checkGRPCListen(cfg *Config) error {
	if cfg.GRPCListen == "" || cfg.GRPCListen == "off" {
		return nil
	}
	if cfg.RPCListen == "off" {
		return errors.New("-grpclisten needs the control API (-rpclisten not off): it uses its cookie")
	}
	host, _, err := net.SplitHostPort(cfg.GRPCListen)
	if err != nil {
		return fmt.Errorf("-grpclisten: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-grpclisten %s: the gRPC API listens on loopback only", cfg.GRPCListen)
	}
	return nil
}

// grpcServer is the running gRPC API of an rpcComponent.
type grpcServer struct {
	api  *grpcapi.Server
	addr string // the address bound
	done chan struct{}
}

// startGRPC serves svc over gRPC on addr with token; a nil server (and no error) when addr is ""
// or "off". It returns the listener's error.
func startGRPC(n *Node, addr string, svc nodeapi.Service, token string) (*grpcServer, error) {
	if addr == "" || addr == "off" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gRPC API: %w", err)
	}
	log := n.log.With("component", "grpc")
	g := &grpcServer{api: grpcapi.NewServer(svc, token, log), addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(g.done)
		if err := g.api.Serve(ln); err != nil {
			log.Error("gRPC API", "err", err)
		}
	}()
	log.Info("gRPC API listening", "addr", g.addr)
	return g, nil
}

// stop ends the gRPC API (event streams end, calls in progress are canceled) and waits for it, up
// to ctx's end. A nil grpcServer does nothing.
func (g *grpcServer) stop(ctx context.Context) error {
	if g == nil {
		return nil
	}
	err := g.api.Shutdown(ctx)
	<-g.done
	return err
}

// grpcAddr is where the gRPC API is to listen: -grpclisten, or after a first start the address
// bound (so a restart keeps the port chosen for port 0).
func (c *rpcComponent) grpcAddr() string {
	if c.grpc != nil {
		return c.grpc.addr
	}
	return c.n.cfg.GRPCListen
}

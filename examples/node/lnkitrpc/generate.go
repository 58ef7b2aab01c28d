// Package lnkitrpc is the lnkit example node's control API over gRPC: lnkit.proto and the Go code
// generated from it (lnkit.pb.go, lnkit_grpc.pb.go), committed so that building needs no protoc.
//
// Regenerate after editing lnkit.proto with protoc 3.21.12 (Debian's protobuf-compiler),
// protoc-gen-go v1.36.12 and protoc-gen-go-grpc v1.6.2 on PATH:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//	go generate ./lnkitrpc
package lnkitrpc

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative lnkit.proto

package grpcapi

import (
	"context"
	"encoding/base64"

	"google.golang.org/grpc/metadata"
)

func metadataContext(ctx context.Context, md map[string][]string) context.Context {
	return metadata.NewIncomingContext(ctx, metadata.MD(md))
}

func basicValue(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

package grpcapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// AuthMetadataKey is the metadata key carrying the cookie token: "Bearer <token>" or HTTP Basic
// ("Basic " + base64 of "__cookie__:<token>"), as the JSON-RPC API's Authorization header.
const AuthMetadataKey = "authorization"

// errUnauthenticated is the status of a call without the right token; it says nothing of what was
// wrong.
var errUnauthenticated = status.Error(codes.Unauthenticated, "unauthenticated: missing or wrong cookie")

// credentials holds the digests of the accepted user name and token.
type credentials struct {
	userDigest  [sha256.Size]byte
	tokenDigest [sha256.Size]byte
	hasToken    bool
}

func newCredentials(token string) credentials {
	return credentials{
		userDigest:  sha256.Sum256([]byte(nodeapi.CookieUser)),
		tokenDigest: sha256.Sum256([]byte(token)),
		hasToken:    token != "",
	}
}

// check returns nil when ctx's incoming metadata holds exactly one authorization value carrying the
// token, else errUnauthenticated. User name and token are compared as SHA-256 digests with
// subtle.ConstantTimeCompare: the time taken depends neither on where a wrong value differs nor on
// its length.
func (c *credentials) check(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(AuthMetadataKey)
	if len(vals) != 1 {
		return errUnauthenticated
	}
	user, pass, ok := parseAuthorization(vals[0])
	if !ok {
		return errUnauthenticated
	}
	u := sha256.Sum256([]byte(user))
	p := sha256.Sum256([]byte(pass))
	okUser := subtle.ConstantTimeCompare(u[:], c.userDigest[:])
	okPass := subtle.ConstantTimeCompare(p[:], c.tokenDigest[:])
	if okUser&okPass != 1 || !c.hasToken {
		return errUnauthenticated
	}
	return nil
}

// parseAuthorization splits an authorization value into user and token: "Bearer <token>" (user
// CookieUser) or "Basic <base64 of user:token>"; the scheme's case is ignored.
func parseAuthorization(v string) (user, pass string, ok bool) {
	switch {
	case len(v) > 7 && strings.EqualFold(v[:7], "Bearer "):
		return nodeapi.CookieUser, strings.TrimSpace(v[7:]), true
	case len(v) > 6 && strings.EqualFold(v[:6], "Basic "):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v[6:]))
		if err != nil {
			return "", "", false
		}
		return strings.Cut(string(raw), ":")
	default:
		return "", "", false
	}
}

// Bearer is a cookie token as per-RPC credentials for grpc.WithPerRPCCredentials: every call then
// carries "authorization: Bearer <token>". They do not require transport security: the API is on
// loopback.
type Bearer string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b Bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{AuthMetadataKey: "Bearer " + string(b)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: false (loopback, plaintext).
func (b Bearer) RequireTransportSecurity() bool { return false }

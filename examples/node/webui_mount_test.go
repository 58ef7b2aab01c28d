package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// The node serves its web page on the control API: 401 without a login, the embedded page (with its
// types) after the one-time login URL, which works once.
func TestWebUIMounted(t *testing.T) {
	btcd := newFakeBtcd(t)
	n := startTestNode(t, testNodeConfig(t, btcd), nil)
	token, err := nodeapi.ReadCookie(n.cfg.DataDir)
	require.NoError(t, err)
	base := "http://" + *n.rpcAddr.Load()
	api := nodeapi.NewClient(base, token)
	defer api.Close()

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar}
	get := func(path string) (int, string, string) {
		resp, err := browser.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}

	status, _, body := get("/ui/")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, body, "lnkit-node webui")

	login, err := api.WebLogin(context.Background())
	require.NoError(t, err)
	status, ctype, body := get(strings.TrimPrefix(login.URL, base)) // follows the redirect to /ui/
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "text/html; charset=utf-8", ctype)
	require.Contains(t, body, `id="open-form"`)
	for path, want := range map[string]string{"/ui/app.js": "text/javascript; charset=utf-8",
		"/ui/style.css": "text/css; charset=utf-8", "/ui/qr.png?data=LNBCRT1": "image/png"} {
		status, ctype, _ := get(path)
		require.Equal(t, http.StatusOK, status, path)
		require.Equal(t, want, ctype, path)
	}

	// The login URL worked once: a fresh browser cannot use it again.
	resp, err := http.Get(login.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

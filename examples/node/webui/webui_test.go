package webui

import (
	"bytes"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func get(t *testing.T, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

// The embedded files are served with their types; the page loads its script and style from /ui/.
func TestFilesServed(t *testing.T) {
	cases := []struct{ path, ctype, contains string }{
		{"/", "text/html; charset=utf-8", `<script src="/ui/app.js"`},
		{"", "text/html; charset=utf-8", `<link rel="stylesheet" href="/ui/style.css">`},
		{"/index.html", "text/html; charset=utf-8", `id="pay-form"`},
		{"/app.js", "text/javascript; charset=utf-8", `new EventSource("/events"`},
		{"/style.css", "text/css; charset=utf-8", ".bar"},
	}
	for _, c := range cases {
		rec := get(t, http.MethodGet, "http://127.0.0.1/"+strings.TrimPrefix(c.path, "/"))
		require.Equal(t, http.StatusOK, rec.Code, c.path)
		require.Equal(t, c.ctype, rec.Header().Get("Content-Type"), c.path)
		require.Contains(t, rec.Body.String(), c.contains, c.path)
	}
	head := get(t, http.MethodHead, "/app.js")
	require.Equal(t, http.StatusOK, head.Code)
	require.Equal(t, "text/javascript; charset=utf-8", head.Header().Get("Content-Type"))
	require.Zero(t, head.Body.Len())
}

func TestUnknownAndRefused(t *testing.T) {
	for _, p := range []string{"/nope.html", "/static/app.js", "/../webui.go", "/app.js/x", "/favicon.ico"} {
		require.Equal(t, http.StatusNotFound, get(t, http.MethodGet, p).Code, p)
	}
	rec := get(t, http.MethodPost, "/")
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
}

// qr.png encodes its data as a QR code PNG; empty or oversized data is refused.
func TestQR(t *testing.T) {
	rec := get(t, http.MethodGet, "/qr.png?data=LIGHTNING%3ALNBCRT1TEST")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "image/png", rec.Header().Get("Content-Type"))
	img, err := png.Decode(bytes.NewReader(rec.Body.Bytes()))
	require.NoError(t, err)
	// Version 1 or 2 (21 or 25 modules) plus the 4-module quiet zone each side, 4 pixels a module.
	w := img.Bounds().Dx()
	require.Equal(t, w, img.Bounds().Dy())
	require.Contains(t, []int{(21 + 8) * qrModulePixels, (25 + 8) * qrModulePixels}, w)

	require.Equal(t, http.StatusBadRequest, get(t, http.MethodGet, "/qr.png").Code)
	long := strings.Repeat("A", MaxQRDataBytes+1)
	require.Equal(t, http.StatusBadRequest, get(t, http.MethodGet, "/qr.png?data="+long).Code)
	ok := get(t, http.MethodGet, "/qr.png?data="+strings.Repeat("A", MaxQRDataBytes))
	require.Equal(t, http.StatusOK, ok.Code, "the largest accepted data fits a QR code")
}

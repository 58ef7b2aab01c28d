// Package webui is the example node's web page: static files embedded in the binary and a QR code
// endpoint, served by the control API (nodeapi.WithWebUI) under /ui/ to logged-in browsers only. The
// page talks to the node through the public JSON-RPC API (POST /) and the event stream (GET /events).
package webui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// contentTypes are the types of the files the page is made of, by extension (not left to the
// system's MIME tables, which vary).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// Handler returns the page's handler. Paths are relative to where it is mounted: "/" (and "") is
// index.html, "/<name>" a file of static/, "/qr.png?data=…" a QR code (see serveQR); anything else is
// 404. Only GET and HEAD are answered (405 otherwise). The handler sets no security headers: the
// mounting server does.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("webui: embedded files: " + err.Error()) // the embed directive guarantees the directory
	}
	return &handler{files: sub}
}

type handler struct {
	files fs.FS
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	switch name {
	case "qr.png":
		serveQR(w, r)
		return
	case "":
		name = "index.html"
	}
	ct, ok := contentTypes[path.Ext(name)]
	if !ok || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	data, err := fs.ReadFile(h.files, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(data)
}

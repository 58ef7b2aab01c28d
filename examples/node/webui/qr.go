package webui

import (
	"net/http"
	"strconv"

	qrcode "github.com/skip2/go-qrcode"
)

// MaxQRDataBytes bounds the text a QR code is made of (a BOLT 11 invoice with route hints fits).
const MaxQRDataBytes = 2048

// qrModulePixels is the size of one QR module in the PNG, in pixels.
const qrModulePixels = 4

// serveQR answers GET qr.png?data=<text> with a PNG QR code of text (error correction level M, 4
// pixels a module, with the quiet zone): 400 if data is empty or longer than MaxQRDataBytes bytes.
func serveQR(w http.ResponseWriter, r *http.Request) {
	data := r.URL.Query().Get("data")
	if data == "" || len(data) > MaxQRDataBytes {
		http.Error(w, "data must be 1 to "+strconv.Itoa(MaxQRDataBytes)+" bytes", http.StatusBadRequest)
		return
	}
	q, err := qrcode.New(data, qrcode.Medium)
	if err != nil {
		http.Error(w, "cannot encode data as a QR code: "+err.Error(), http.StatusBadRequest)
		return
	}
	png, err := q.PNG(-qrModulePixels)
	if err != nil {
		http.Error(w, "encoding the QR code: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(png)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(png)
	}
}

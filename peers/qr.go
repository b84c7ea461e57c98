package peers

import (
	"fmt"
	"io"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// qrLevel is the lowest error correction: a client config is a few hundred
// bytes, and level L keeps its code under 80 terminal columns.
const qrLevel = qrcode.Low

// pngModule is the size of one QR module in a PNG, in pixels.
const pngModule = 8

// QR is text as a QR code: rows of modules, true for dark, with the quiet
// zone of four light modules around it.
func QR(text string) ([][]bool, error) {
	q, err := qrcode.New(text, qrLevel)
	if err != nil {
		return nil, fmt.Errorf("QR code: %w", err)
	}
	return q.Bitmap(), nil
}

// The terminal drawing: black on bright white, set explicitly so the code
// reads the same on dark and light terminal themes.
const (
	ansiCode  = "\x1b[30;107m"
	ansiReset = "\x1b[0m"
)

// WriteTerminalQR draws text's QR code with half-block characters: one
// character cell holds two modules, one above the other.
func WriteTerminalQR(w io.Writer, text string) error {
	bm, err := QR(text)
	if err != nil {
		return err
	}
	var b strings.Builder
	for y := 0; y < len(bm); y += 2 {
		b.WriteString(ansiCode)
		for x := range bm[y] {
			top, bottom := bm[y][x], y+1 < len(bm) && bm[y+1][x]
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString(ansiReset + "\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// PNG is text's QR code as a PNG picture.
func PNG(text string) ([]byte, error) {
	q, err := qrcode.New(text, qrLevel)
	if err != nil {
		return nil, fmt.Errorf("QR code: %w", err)
	}
	return q.PNG(-pngModule)
}

// SVG is text's QR code as an SVG picture: one path of dark runs on a
// light square, one unit per module, for a browser to scale.
func SVG(text string) (string, error) {
	bm, err := QR(text)
	if err != nil {
		return "", err
	}
	n := len(bm)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, n, n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x, y, run, run)
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}

package lab

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"regexp"
	"strings"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// DecodeQR reads the QR code in img with ZXing's decoder (a Go port), as a
// phone's camera app would: finding the code in the picture, not told
// where it is. The port's detector misses about one code in fifty when
// its modules are 5 pixels or more (the same picture scaled down reads),
// so smaller copies of img are tried too, as a camera further away sees it.
func DecodeQR(img image.Image) (string, error) {
	text, err := decodeQR(img)
	for f := 2; err != nil && f <= 8; f++ {
		var e error
		if text, e = decodeQR(shrink(img, f)); e == nil {
			err = nil
		}
	}
	return text, err
}

// shrink keeps one pixel, the middle one, of every f x f block.
func shrink(img image.Image, f int) image.Image {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx()/f, b.Dy()/f))
	for y := 0; y < out.Rect.Dy(); y++ {
		for x := 0; x < out.Rect.Dx(); x++ {
			out.Set(x, y, img.At(b.Min.X+x*f+f/2, b.Min.Y+y*f+f/2))
		}
	}
	return out
}

func decodeQR(img image.Image) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{
		gozxing.DecodeHintType_TRY_HARDER: true,
	})
	if err != nil {
		return "", fmt.Errorf("decode QR code: %w", err)
	}
	return res.GetText(), nil
}

// DecodeQRPNG decodes the QR code in a PNG file's bytes.
func DecodeQRPNG(data []byte) (string, error) {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	return DecodeQR(img)
}

var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TerminalQR finds the QR code drawn with half-block characters (dark
// ink: '█' both modules, '▀' the upper, '▄' the lower) in terminal output
// and returns it as a picture, scale pixels per module. The code is the
// longest run of lines made of those characters and spaces only. The
// picture gets a light margin of its own, whatever the drawing has.
func TerminalQR(out string, scale int) (image.Image, error) {
	var best, cur []string
	for _, line := range strings.Split(out, "\n") {
		plain := ansiEscape.ReplaceAllString(line, "")
		if plain != "" && strings.Trim(plain, " █▀▄") == "" {
			cur = append(cur, plain)
			if len(cur) > len(best) {
				best = cur
			}
			continue
		}
		cur = nil
	}
	if len(best) < 10 {
		return nil, errors.New("no QR code drawing in the output")
	}
	width := 0
	for _, l := range best {
		width = max(width, len([]rune(l)))
	}
	const margin = 4 // modules
	img := image.NewGray(image.Rect(0, 0, (width+2*margin)*scale, (2*len(best)+2*margin)*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	set := func(mx, my int) {
		mx, my = mx+margin, my+margin
		for y := my * scale; y < (my+1)*scale; y++ {
			for x := mx * scale; x < (mx+1)*scale; x++ {
				img.SetGray(x, y, color.Gray{})
			}
		}
	}
	for row, l := range best {
		for col, r := range []rune(l) {
			switch r {
			case '█':
				set(col, 2*row)
				set(col, 2*row+1)
			case '▀':
				set(col, 2*row)
			case '▄':
				set(col, 2*row+1)
			}
		}
	}
	return img, nil
}

package metricstest

import "testing"

func TestSample(t *testing.T) {
	out := "# HELP x y\nx_total{a=\"1\",b=\"2\"} 7\nx_total{a=\"3\",b=\"2\"} 9\ny{a=\"1\"} 1\n"
	for _, c := range []struct {
		name string
		want []string
		v    string
	}{
		{"x_total", []string{`a="3"`}, "9"},
		{"x_total", []string{`b="2"`, `a="1"`}, "7"},
		{"x_total", []string{`a="4"`}, ""},
		{"x", []string{`a="1"`}, ""},
	} {
		if got := Sample(out, c.name, c.want...); got != c.v {
			t.Errorf("Sample(%s, %v) = %q, want %q", c.name, c.want, got, c.v)
		}
	}
}

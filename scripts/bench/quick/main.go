// Temporary: throughput + peak RSS of implementations, for tuning.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"wgd/internal/dataplane"
	"wgd/internal/lab"
)

func main() {
	secs := flag.Int("t", 5, "")
	rounds := flag.Int("n", 1, "")
	perf := flag.Bool("perf", false, "")
	flag.Parse()
	ctx := context.Background()
	for r := 0; r < *rounds; r++ {
		for _, arg := range flag.Args() {
			parts := strings.Split(arg, ",")
			binA, binB, two := strings.Cut(parts[0], "|")
			if !two {
				binB = binA
			}
			impl := dataplane.Impl{Name: binA, Bin: binA, WGD: !strings.Contains(binA, "wireguard-go"), Env: parts[1:]}
			implB := dataplane.Impl{Name: binB, Bin: binB, WGD: !strings.Contains(binB, "wireguard-go"), Env: parts[1:]}
			l, err := lab.New()
			if err != nil {
				panic(err)
			}
			func() {
				defer func() { l.StopAll(); l.Close() }()
				p, err := dataplane.NewPair(ctx, l, impl, implB)
				if err != nil {
					panic(err)
				}
				if err := p.Start(ctx); err != nil {
					panic(err)
				}
				time.Sleep(2 * time.Second)
				ma, _ := dataplane.ReadMem(p.A.Proc.Pid())
				if os.Getenv("HEAP") != "" {
					exec.Command("sh", "-c", fmt.Sprintf("curl -s --unix-socket /tmp/pprof-%d.sock http://x/debug/pprof/heap > /tmp/heap-idle.pb", p.A.Proc.Pid())).Run()
					defer exec.Command("sh", "-c", fmt.Sprintf("curl -s --unix-socket /tmp/pprof-%d.sock http://x/debug/pprof/heap > /tmp/heap-load.pb; curl -s --unix-socket /tmp/pprof-%d.sock http://x/debug/pprof/heap?debug=1 | tail -40 > /tmp/memstats.txt", p.A.Proc.Pid(), p.A.Proc.Pid())).Run()
				}
				if os.Getenv("SMAPS") != "" {
					out, _ := exec.Command("sh", "-c", fmt.Sprintf("awk '/^[0-9a-f]+-/{m=$1\" \"$2\" \"$6} /^Rss:/{if($2>100) print m, $2}' /proc/%d/smaps", p.A.Proc.Pid())).Output()
					fmt.Printf("idle smaps A:\n%s", out)
					defer func() {
						out, _ := exec.Command("sh", "-c", fmt.Sprintf("awk '/^[0-9a-f]+-/{m=$1\" \"$2\" \"$6} /^Rss:/{if($2>100) print m, $2}' /proc/%d/smaps", p.A.Proc.Pid())).Output()
						fmt.Printf("loaded smaps A:\n%s", out)
					}()
				}
				if *perf {
					go func() {
						time.Sleep(2 * time.Second)
						out, err := exec.Command("sh", "-c", fmt.Sprintf("perf record -g -o /tmp/perfA.data -p %d -- sleep 3 >/dev/null 2>&1; perf record -g -o /tmp/perfB.data -p %d -- sleep 3 >/dev/null 2>&1", p.A.Proc.Pid(), p.B.Proc.Pid())).CombinedOutput()
						_ = out
						_ = err
					}()
				}
				b1, err := p.Iperf(ctx, 1, *secs)
				if err != nil {
					panic(err)
				}
				b4, err := p.Iperf(ctx, 4, *secs)
				if err != nil {
					panic(err)
				}
				a, _ := dataplane.ReadMem(p.A.Proc.Pid())
				b, _ := dataplane.ReadMem(p.B.Proc.Pid())
				for _, pid := range []int{p.A.Proc.Pid(), p.B.Proc.Pid()} {
					st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
					for _, line := range strings.Split(string(st), "\n") {
						if strings.HasPrefix(line, "RssAnon") || strings.HasPrefix(line, "RssFile") {
							fmt.Print(strings.Join(strings.Fields(line), " "), "  ")
						}
					}
					fmt.Println()
				}
				if os.Getenv("OUT") != "" {
					o := p.A.Proc.Output() + "\n--- B:\n" + p.B.Proc.Output()
					if len(o) > 3000 { o = o[len(o)-3000:] }
					fmt.Println(o)
				}
				fmt.Printf("%-40s 1:%6.0f 4:%6.0f Mbit/s idle %s peakA %s peakB %s nowA %s\n", arg, b1/1e6, b4/1e6, dataplane.MiB(ma.RSS), dataplane.MiB(a.Peak), dataplane.MiB(b.Peak), dataplane.MiB(a.RSS))
			}()
		}
	}
	os.Exit(0)
}

// chanbench runs chanpy's benchmark scenarios with Go's own channels: the
// ceiling chanpy is compared with. `python -m chanpy.bench` builds it into a
// temporary directory and runs it once per scenario when `go` is on PATH.
//
//	chanbench -scenario threads-1to1 -n 200000 -rounds 7
//
// prints one JSON object: {"scenario": ..., "ops": n, "ns_per_op": [one per round]}.
// Each workload mirrors the Python one of the same name in
// chanpy/bench/scenarios.py (goroutines stand in for threads).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"
)

const capacity = 1024

// pipeline: producers goroutines send n values in total, consumers receive them.
func pipeline(n, producers, consumers int) time.Duration {
	ch := make(chan int, capacity)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < n/producers; i++ {
				ch <- i
			}
		}()
	}
	for c := 0; c < consumers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < n/consumers; i++ {
				<-ch
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	return time.Since(t0)
}

// pingpong: n round trips over two unbuffered channels.
func pingpong(n int) time.Duration {
	ping, pong := make(chan int), make(chan int)
	done := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			pong <- <-ping
		}
		close(done)
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	<-done
	return time.Since(t0)
}

// select4: n selects over 4 receive cases, one channel holding values.
func select4(n int) time.Duration {
	a, b, c := make(chan int, 1), make(chan int, 1), make(chan int, 1)
	ready := make(chan int, n)
	for i := 0; i < n; i++ {
		ready <- i
	}
	sum := 0
	t0 := time.Now()
	for i := 0; i < n; i++ {
		select {
		case v := <-a:
			sum += v
		case v := <-b:
			sum += v
		case v := <-c:
			sum += v
		case v := <-ready:
			sum += v
		}
	}
	elapsed := time.Since(t0)
	if sum < 0 {
		fmt.Fprintln(os.Stderr, sum)
	}
	return elapsed
}

func task() {}

// pool4: one producer hands n trivial tasks to 4 worker goroutines.
func pool4(n int) time.Duration {
	jobs := make(chan func(), capacity)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for fn := range jobs {
				fn()
			}
		}()
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		jobs <- task
	}
	close(jobs)
	wg.Wait()
	return time.Since(t0)
}

var scenarios = map[string]func(n int) time.Duration{
	"threads-1to1": func(n int) time.Duration { return pipeline(n, 1, 1) },
	"threads-4to4": func(n int) time.Duration { return pipeline(n, 4, 4) },
	"fanin-8":      func(n int) time.Duration { return pipeline(n, 8, 1) },
	"pingpong":     pingpong,
	"select-4":     select4,
	"pool-4":       pool4,
}

func main() {
	name := flag.String("scenario", "", "scenario name")
	n := flag.Int("n", 100000, "ops per round")
	rounds := flag.Int("rounds", 5, "measured rounds (after one warm-up)")
	list := flag.Bool("list", false, "list the scenarios")
	flag.Parse()
	if *list {
		for k := range scenarios {
			fmt.Println(k)
		}
		return
	}
	run, ok := scenarios[*name]
	if !ok || *n < 1 || *rounds < 1 {
		fmt.Fprintf(os.Stderr, "chanbench: unknown scenario %q or bad -n/-rounds\n", *name)
		os.Exit(2)
	}
	run(*n/10 + 8) // warm-up
	out := struct {
		Scenario string    `json:"scenario"`
		Ops      int       `json:"ops"`
		NsPerOp  []float64 `json:"ns_per_op"`
	}{Scenario: *name, Ops: *n}
	for r := 0; r < *rounds; r++ {
		out.NsPerOp = append(out.NsPerOp, float64(run(*n).Nanoseconds())/float64(*n))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

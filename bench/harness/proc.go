package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is a child process the harness started. It runs in its own process
// group (its PID is the group's ID), so Stop reaches whatever it forked
// without ever naming a process by anything but that PID.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// Start runs name with args, its output going to logDir/<label>.log.
func Start(logDir, label string, env []string, name string, args ...string) (*Proc, error) {
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(logDir, label+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", label, err)
	}
	p := &Proc{Name: label, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// PID is the process's ID (and its process group's).
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited says whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the process group, and SIGKILL after grace.
func (p *Proc) Stop(grace time.Duration) {
	if p == nil || p.Exited() {
		return
	}
	_ = syscall.Kill(-p.PID(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		<-p.done
	}
}

// LogTail returns the end of the process's output, for error messages.
func (p *Proc) LogTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return strings.TrimSpace(string(b))
}

// WaitReady polls check until it succeeds, the process exits or timeout
// passes. A process that exits right after answering (its port was taken by
// someone else, who answered instead) is reported too.
func (p *Proc) WaitReady(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.Exited() {
			return fmt.Errorf("%s exited: %v\n%s", p.Name, p.err, p.LogTail())
		}
		err := check()
		if err == nil {
			time.Sleep(100 * time.Millisecond)
			if p.Exited() {
				return fmt.Errorf("%s exited after start: %v\n%s", p.Name, p.err, p.LogTail())
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %v\n%s", p.Name, timeout, err, p.LogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// httpOK is a readiness check: GET url answers 2xx.
func httpOK(url string) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcStats is what /proc says about a process tree at one instant.
type ProcStats struct {
	CPU      time.Duration // user + system time of the tree
	PeakRSS  int64         // bytes: VmHWM summed over the tree
	RSS      int64         // bytes: VmRSS summed over the tree
	Procs    int
	Measured bool // false when /proc could not be read (not Linux, or gone)
}

// ReadTree reads CPU time and memory of pid and its live descendants. The
// CPU time of children already reaped is in the root's cutime/cstime.
func ReadTree(pid int) ProcStats {
	if pid <= 0 {
		return ProcStats{}
	}
	var s ProcStats
	for _, p := range tree(pid) {
		f, ok := statFields(p)
		if !ok {
			continue
		}
		ticks := atoi(f[11]) + atoi(f[12]) // utime, stime (fields 14, 15)
		if p == pid {
			ticks += atoi(f[13]) + atoi(f[14]) // cutime, cstime
		}
		s.CPU += time.Duration(ticks) * time.Second / clockTicks
		hwm, rss := statusMem(p)
		s.PeakRSS += hwm
		s.RSS += rss
		s.Procs++
		s.Measured = true
	}
	return s
}

// ResetPeakRSS resets VmHWM of the tree to its current RSS (Linux >= 4.0,
// "echo 5 > /proc/<pid>/clear_refs"), so a later ReadTree reports the peak
// of what ran in between. It reports whether every process was reset.
func ResetPeakRSS(pid int) bool {
	ok := pid > 0
	for _, p := range tree(pid) {
		if os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p), []byte("5"), 0) != nil {
			ok = false
		}
	}
	return ok
}

// statFields returns /proc/<pid>/stat after the command name: index 0 is
// field 3 (state).
func statFields(pid int) ([]string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return nil, false
	}
	return f, true
}

func statusMem(pid int) (hwm, rss int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb := int64(atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))) * 1024
		switch k {
		case "VmHWM":
			hwm = kb
		case "VmRSS":
			rss = kb
		}
	}
	return hwm, rss
}

// tree lists pid and its descendants by their parent links in /proc.
func tree(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f, ok := statFields(p); ok {
			pp := atoi(f[1]) // ppid (field 4)
			children[pp] = append(children[pp], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tool finds a program a test runs; CI installs them all, so there a
// missing one fails.
func tool(t *testing.T, name, debPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found; .ci/run must install Debian's %s", name, debPackage)
	}
	t.Skipf("%s not found; install Debian's %s to run this test", name, debPackage)
	return ""
}

// completes returns what the tool offers for the last of words.
func completes(t *testing.T, words ...string) []string {
	t.Helper()
	code, out, errOut := lienthong(t, "", append([]string{"__complete"}, words...)...)
	if code != 0 {
		t.Fatalf("__complete %q: exit %d: %s", words, code, errOut)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, ":") { // the directive
			break
		}
		name, _, _ := strings.Cut(l, "\t")
		got = append(got, name)
	}
	return got
}

func TestCompletion(t *testing.T) {
	for _, c := range []struct {
		words []string // the last is being completed
		want  string
	}{
		{[]string{"out"}, "outbox"},
		{[]string{"en"}, "envelope"},
		{[]string{"envelope", "s"}, "sign"},
		{[]string{"envelope", "sign", "--pk"}, "--pkcs11-uri"},
		{[]string{"outbox", "re"}, "recall resend retry revoke"},
		{[]string{"outbox", "resend", "--to"}, "--token-file"},
		{[]string{"inbox", "--api", "x", "an"}, "answer"},
		{[]string{"inbox", "answer", "in-1", ""}, "02 03 04 05 06 15 16"},
		{[]string{"bench", "--workload", ""}, "status memo big urgent"},
		{[]string{"axis", "sent", "--type", ""}, "edoc status"},
		{[]string{"completion", ""}, "bash fish powershell zsh"},
	} {
		if got := strings.Join(completes(t, c.words...), " "); got != c.want {
			t.Errorf("%q completes to %q, want %q", c.words, got, c.want)
		}
	}
}

// TestBashCompletionScript runs the script "completion bash" prints in
// bash, calling this test binary as the tool.
func TestBashCompletionScript(t *testing.T) {
	bash := tool(t, "bash", "bash")
	// The script builds on the bash-completion package, as in users' shells.
	const bashCompletion = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(bashCompletion); err != nil {
		tool(t, "no-bash-completion", "bash-completion")
	}
	code, script, errOut := lienthong(t, "", "completion", "bash")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(dir, "lienthong")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lienthong.bash"), []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	// Where the tool offers nothing (a file name), bash completes files.
	if !strings.Contains(script, "complete -o default -F __start_lienthong lienthong") {
		t.Error("the script does not fall back to file names")
	}
	for _, c := range []struct {
		line string // what is typed; the last word is being completed
		want string
	}{
		{"lienthong out", "outbox"},
		{"lienthong envelope s", "sign"},
		{"lienthong envelope sign --pk", "--pkcs11-uri"},
		{"lienthong inbox answer in-1 1", "15 16"},
	} {
		words := strings.Fields(c.line)
		// compopt works only inside a completion bash itself calls.
		prog := "compopt() { :; }; source " + bashCompletion + "; source lienthong.bash; COMP_LINE='" + c.line + "'; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(" +
			strings.Join(words, " ") + "); COMP_CWORD=" + string(rune('0'+len(words)-1)) +
			`; __start_lienthong; printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "LIENTHONG_TEST_AS_TOOL=1")
		out, err := cmd.CombinedOutput()
		var got []string
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				got = append(got, f[0]) // a description may follow
			}
		}
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("%q completes to %q (%v), want %q", c.line, out, err, c.want)
		}
	}
}

func TestZshFishCompletion(t *testing.T) {
	for shell, want := range map[string]string{
		"zsh":        "#compdef lienthong",
		"fish":       "complete -c lienthong ",
		"powershell": "Register-ArgumentCompleter",
	} {
		code, script, errOut := lienthong(t, "", "completion", shell)
		if code != 0 || !strings.Contains(script, want) {
			t.Errorf("completion %s: exit %d %s, script lacks %q", shell, code, errOut, want)
		}
	}
	if code, _, _ := lienthong(t, "", "completion", "tcsh"); code != 2 {
		t.Errorf("completion tcsh: exit %d, want 2", code)
	}
}

func TestManPages(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1767225600") // 2026-01-01
	if code, _, errOut := lienthong(t, "", "man", dir); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	pages, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pages {
		names = append(names, filepath.Base(p))
	}
	for _, want := range []string{"lienthong.1", "lienthong-envelope-sign.1", "lienthong-outbox-recall.1", "lienthong-queue-backup.1", "lienthong-inbox-answer.1"} {
		if !slices.Contains(names, want) {
			t.Errorf("no page %s among %v", want, names)
		}
	}
	sign, err := os.ReadFile(filepath.Join(dir, "lienthong-envelope-sign.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`.TH "LIENTHONG\-ENVELOPE\-SIGN" "1" "Jan 2026"`, `\-\-pkcs11\-uri`, "lienthong dev-ca /tmp/dev", ".SH SEE ALSO"} {
		if !strings.Contains(strings.ReplaceAll(string(sign), `\-`, "-"), strings.ReplaceAll(want, `\-`, "-")) {
			t.Errorf("lienthong-envelope-sign.1 lacks %q:\n%s", want, sign)
		}
	}
	// groff must read every page without a warning.
	groff := tool(t, "groff", "groff-base")
	for _, p := range pages {
		cmd := exec.Command(groff, "-k", "-man", "-Tutf8", "-ww", "-z", p)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff %s: %v\n%s", filepath.Base(p), err, out)
		}
	}
}

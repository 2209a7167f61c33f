package main

import (
	"os"
	"os/exec"
	"path/filepath"
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

func TestBashCompletion(t *testing.T) {
	bash := tool(t, "bash", "bash")
	code, script, errOut := lienthong(t, "", "completion", "bash")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "lienthong.bash"), []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "agency.pem"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		line string // what is typed; the last word is being completed
		want string
	}{
		{"lienthong out", "outbox"},
		{"lienthong en", "envelope"},
		{"lienthong envelope s", "sign"},
		{"lienthong envelope sign --pk", "--pkcs11-uri"},
		{"lienthong envelope sign --key ag", "agency.pem"},
		{"lienthong outbox re", "resend recall revoke"},
		{"lienthong outbox resend --to", "--token-file"},
		{"lienthong --api x inbox an", "answer"},
		{"lienthong completion", "completion"},
	} {
		words := strings.Fields(c.line)
		prog := "source lienthong.bash; COMP_WORDS=(" + strings.Join(words, " ") + "); COMP_CWORD=" +
			string(rune('0'+len(words)-1)) + "; _lienthong; echo \"${COMPREPLY[*]}\""
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if got := strings.Join(strings.Fields(string(out)), " "); err != nil || got != c.want {
			t.Errorf("%q completes to %q (%v), want %q", c.line, got, err, c.want)
		}
	}
}

func TestFishAndZshCompletion(t *testing.T) {
	_, fish, _ := lienthong(t, "", "completion", "fish")
	for _, want := range []string{
		"complete -c lienthong -n '__fish_use_subcommand' -a envelope -d 'inspect, build, sign and verify edXML packages'",
		"complete -c lienthong -n '__fish_seen_subcommand_from envelope; and __fish_seen_subcommand_from sign' -l key -r -F",
		"complete -c lienthong -n '__fish_seen_subcommand_from outbox' -a resend",
	} {
		if !strings.Contains(fish, want) {
			t.Errorf("fish completion lacks %q", want)
		}
	}
	_, zsh, _ := lienthong(t, "", "completion", "zsh")
	if !strings.HasPrefix(zsh, "#compdef lienthong\n") || !strings.Contains(zsh, "complete -o filenames -F _lienthong lienthong") {
		t.Errorf("zsh completion is not a compdef wrapping the bash one:\n%.300s", zsh)
	}
	if code, _, _ := lienthong(t, "", "completion", "tcsh"); code != 2 {
		t.Errorf("completion tcsh: exit %d, want 2", code)
	}
}

func TestManPage(t *testing.T) {
	code, page, errOut := lienthong(t, "", "man")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		".TH LIENTHONG 1 ", ".SH NAME\nlienthong \\- operator tool", ".SH SYNOPSIS", ".SS envelope sign",
		".SS outbox", ".SS queue backup", ".B \\-\\-pkcs11\\-uri \\fIstring\\fR", ".SH SEE ALSO",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	// groff must read it without a warning.
	groff := tool(t, "groff", "groff-base")
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = strings.NewReader(page)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff: %v\n%s", err, out)
	}

	daemonHelp := "lienthongd connects an agency's document system to the axis.\n\nUsage:\n  lienthongd -config FILE\nFlags:\n  -config file\n    \tconfiguration file\n"
	code, page, errOut = lienthong(t, daemonHelp, "man", "--name", "lienthongd", "--section", "8", "-")
	if code != 0 || !strings.Contains(page, ".TH LIENTHONGD 8 ") || !strings.Contains(page, ".B \\-\\-config \\fIfile\\fR\nconfiguration file") ||
		!strings.Contains(page, "lienthongd \\- lienthongd connects an agency's document system to the axis") {
		t.Errorf("man from stdin: exit %d, %s\n%s", code, errOut, page)
	}
}

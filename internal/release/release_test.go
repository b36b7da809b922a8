package release_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"visiona-backend/internal/release"
	"visiona-backend/internal/testenv"
)

var pgServer = testenv.NewServer()

func TestMain(m *testing.M) { testenv.Main(m, pgServer) }

// checkout copies the module's working tree (tracked and untracked, not ignored files) into a
// fresh git repository with one commit, and returns its directory and that commit. The builds
// run there, so they record a commit even when the tests run in a git worktree (where Go records
// none), and nothing is written into the developer's tree.
func checkout(t *testing.T) (dir, commit string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed to build the release binaries: install git")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	files := strings.Split(strings.TrimRight(git(t, root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"), "\x00"), "\x00")
	dir = t.TempDir()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "-c", "user.name=release test", "-c", "user.email=release-test@example.invalid", "commit", "-q", "-m", "snapshot")
	return dir, strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

func options(dir string) (release.Options, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return release.Options{Dir: dir, Stdout: &stdout, Stderr: &stderr}, &stdout, &stderr
}

// latestMigration is the newest up file's name without .up.sql, and the migrations.sum total.
func latestMigration(t *testing.T, dir string) (name, total string) {
	t.Helper()
	ups, err := filepath.Glob(filepath.Join(dir, "migrations", "*.up.sql"))
	if err != nil || len(ups) == 0 {
		t.Fatalf("migrations: %v %v", ups, err)
	}
	sum, err := os.ReadFile(filepath.Join(dir, "migrations", "migrations.sum"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(sum), "\n")
	return strings.TrimSuffix(filepath.Base(ups[len(ups)-1]), ".up.sql"), first
}

type versionDoc struct {
	Build struct {
		Version    string `json:"version"`
		Commit     string `json:"commit"`
		Dirty      bool   `json:"dirty"`
		OS         string `json:"os"`
		Arch       string `json:"arch"`
		CGO        bool   `json:"cgo"`
		Lint       bool   `json:"lint"`
		Migrations struct {
			LatestName string `json:"latest_name"`
			Sum        string `json:"sum"`
		} `json:"migrations"`
	} `json:"build"`
}

func runVersionJSON(t *testing.T, bin string) versionDoc {
	t.Helper()
	out, err := exec.Command(bin, "-json", "-version").Output()
	if err != nil {
		t.Fatalf("%s -json -version: %v", bin, err)
	}
	var doc versionDoc
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%s -json -version: %v\n%s", bin, err, out)
	}
	return doc
}

func TestBuildNamesTheCommitAndTheLatestMigration(t *testing.T) {
	dir, commit := checkout(t)
	o, stdout, stderr := options(dir)
	b, err := release.Build(t.Context(), o)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	latest, total := latestMigration(t, dir)
	if b.Commit != commit || b.Dirty || b.Version != commit[:12] {
		t.Fatalf("build %+v, want commit %s, clean", b, commit)
	}
	// What mage build prints is bin/migrate -version.
	for _, want := range []string{"migrate " + commit[:12] + "\n", "commit      " + commit + " (", "latest " + latest + "\n", "sum         " + total + "\n", "lint        yes"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("mage build output lacks %q:\n%s", want, stdout)
		}
	}
	doc := runVersionJSON(t, filepath.Join(dir, "bin", "migrate"))
	if doc.Build.Commit != commit || doc.Build.Migrations.LatestName != latest || doc.Build.Migrations.Sum != total || !doc.Build.CGO || !doc.Build.Lint {
		t.Fatalf("bin/migrate -json -version: %+v", doc)
	}
	if strings.Contains(stderr.String(), "warning") {
		t.Fatalf("unexpected warning: %s", stderr)
	}
}

// tree lists every file under dir except .git and dist/, with its size and mode.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && (rel == ".git" || rel == "dist") {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, fmt.Sprint(rel, " ", fi.Mode(), " ", fi.ModTime(), " ", fi.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestReleaseBinariesForEachPlatform(t *testing.T) {
	dir, commit := checkout(t)
	// An earlier release's leftovers are replaced.
	if err := os.MkdirAll(filepath.Join(dir, "dist"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dist", "migrate-v0.0.1-linux-amd64"), []byte("old"), 0o755); err != nil {
		t.Fatal(err)
	}
	// An uncommitted change: the release says so and marks every binary dirty.
	readme := filepath.Join(dir, "README.md")
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(readme, append(data, "\nuncommitted\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	before := tree(t, dir)

	o, stdout, stderr := options(dir)
	arts, err := release.Release(t.Context(), o)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "mage release: warning: the working tree has 1 uncommitted change(s)") {
		t.Errorf("no dirty-tree warning:\n%s", stderr)
	}
	if after := tree(t, dir); !slices.Equal(before, after) {
		t.Errorf("release wrote outside dist/:\nbefore %v\nafter  %v", before, after)
	}

	label := commit[:12] + "-dirty"
	want := []string{"SHA256SUMS", "migrate-" + label + "-darwin-arm64", "migrate-" + label + "-linux-amd64", "migrate-" + label + "-linux-arm64"}
	entries, err := os.ReadDir(filepath.Join(dir, "dist"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("dist/ holds %v, want %v", got, want)
	}

	sums, err := os.ReadFile(filepath.Join(dir, "dist", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	host := runtime.GOOS + "/" + runtime.GOARCH
	for _, a := range arts {
		name := filepath.Base(a.Path)
		data, err := os.ReadFile(filepath.Join(dir, a.Path))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(data)
		if line := hex.EncodeToString(h[:]) + "  " + name + "\n"; !strings.Contains(string(sums), line) {
			t.Errorf("SHA256SUMS lacks %q:\n%s", line, sums)
		}
		if a.Build.Commit != commit || !a.Build.Dirty || a.Build.Version != label {
			t.Errorf("%s: build %+v", name, a.Build)
		}
		if got := binaryPlatform(t, filepath.Join(dir, a.Path)); got != a.Build.Platform() || !strings.HasSuffix(name, "-"+strings.ReplaceAll(got, "/", "-")) {
			t.Errorf("%s is a %s binary", name, got)
		}
		native := a.Build.Platform() == host
		if a.Build.CGO != native || strings.HasPrefix(a.Lint, "yes") != native {
			t.Errorf("%s: cgo %v, lint %q; only the native build (%s) has cgo", name, a.Build.CGO, a.Lint, host)
		}
		if !strings.Contains(stdout.String(), a.Path) || !strings.Contains(stdout.String(), "lint: "+a.Lint) {
			t.Errorf("release output does not list %s and its lint:\n%s", a.Path, stdout)
		}
		if !native {
			continue
		}
		doc := runVersionJSON(t, filepath.Join(dir, a.Path))
		if doc.Build.Commit != commit || !doc.Build.Dirty || doc.Build.Version != label || !doc.Build.Lint {
			t.Errorf("%s -json -version: %+v", name, doc)
		}
	}
	if len(arts) != 3 {
		t.Fatalf("%d artifacts", len(arts))
	}
}

// binaryPlatform reads the OS and architecture from the executable's headers.
func binaryPlatform(t *testing.T, path string) string {
	t.Helper()
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		arch := map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[f.Machine]
		return "linux/" + cmpOr(arch, f.Machine.String())
	}
	f, err := macho.Open(path)
	if err != nil {
		t.Fatalf("%s is neither ELF nor Mach-O: %v", path, err)
	}
	defer f.Close()
	arch := map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[f.Cpu]
	return "darwin/" + cmpOr(arch, f.Cpu.String())
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// The release refuses a tree where Go cannot record the commit: a binary must say what it carries.
func TestReleaseWithoutCommit(t *testing.T) {
	dir, _ := checkout(t)
	// A git worktree's .git is a file; Go looks for a directory and records nothing.
	wt := filepath.Join(t.TempDir(), "wt")
	git(t, dir, "worktree", "add", "-q", "--detach", wt)
	o, _, _ := options(wt)
	_, err := release.Release(context.Background(), o)
	if !errors.Is(err, release.ErrNoCommit) || !strings.Contains(err.Error(), "git worktree") {
		t.Fatalf("got %v, want ErrNoCommit naming the worktree", err)
	}
	if left, _ := filepath.Glob(filepath.Join(wt, "dist", "*")); len(left) != 0 {
		t.Fatalf("dist/ holds %v after a refused release", left)
	}
}

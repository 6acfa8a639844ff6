package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The config key "monitor" and the --monitor flag set the same thing;
// --monitor=false on the command line wins over the file.
func TestMonitorConfigKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ips.json")
	if err := os.WriteFile(path, []byte(`{"monitor": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if cfg, _ := parseRunArgs([]string{"--config", path}, &stderr); cfg == nil || !cfg.Monitor {
		t.Errorf("config monitor true: %+v %s", cfg, stderr.String())
	}
	if cfg, _ := parseRunArgs([]string{"--config", path, "--monitor=false"}, &stderr); cfg == nil || cfg.Monitor {
		t.Errorf("--monitor=false over the file: %+v %s", cfg, stderr.String())
	}
	if cfg, _ := parseRunArgs([]string{"--monitor"}, &stderr); cfg == nil || !cfg.Monitor {
		t.Errorf("--monitor: %+v %s", cfg, stderr.String())
	}
	if cfg, _ := parseRunArgs(nil, &stderr); cfg == nil || cfg.Monitor {
		t.Errorf("default: monitor %v", cfg.Monitor)
	}
}

// The Go runtime settings deploy/base gives meshlock's container (GOMEMLIMIT, GOGC), so that the
// scale and load commands measure the process as it is deployed.

package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// DeployedRuntimeEnv reads deploy/base/deployment.yaml and answers the
// GO* variables of its meshlock container as NAME=value.
func DeployedRuntimeEnv(root string) ([]string, error) {
	path := filepath.Join(root, "deploy", "base", "deployment.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d appsv1.Deployment
	if err := yaml.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name != "meshlock" {
			continue
		}
		var env []string
		for _, e := range c.Env {
			if strings.HasPrefix(e.Name, "GO") && e.ValueFrom == nil {
				env = append(env, e.Name+"="+e.Value)
			}
		}
		return env, nil
	}
	return nil, fmt.Errorf("%s: no container named meshlock", path)
}

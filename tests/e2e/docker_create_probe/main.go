// docker-create-probe creates one container through the Docker Go client that the Docker
// provider uses (github.com/docker/docker/client v28.5.2 with API version negotiation, as in
// terraform-provider-docker v4.5.0 internal/provider/config.go), so the client's own checks run.
//
//	docker-create-probe <docker host> <name> < body.json
//
// body.json is an Engine API ContainerCreate body (Config fields plus "HostConfig"). Prints
// {"id": ..., "apiVersion": ...} and exits 0, or {"error": ..., "apiVersion": ...} and exits 1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
)

type body struct {
	container.Config
	HostConfig container.HostConfig
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: docker-create-probe <docker host> <name> < body.json")
		os.Exit(2)
	}
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		report(nil, err)
	}
	var request body
	if err := json.Unmarshal(raw, &request); err != nil {
		report(nil, err)
	}
	cli, err := client.NewClientWithOpts(client.WithHost(os.Args[1]), client.WithAPIVersionNegotiation())
	if err != nil {
		report(nil, err)
	}
	created, err := cli.ContainerCreate(context.Background(), &request.Config, &request.HostConfig,
		nil, nil, os.Args[2])
	if err != nil {
		report(cli, err)
	}
	out, _ := json.Marshal(map[string]string{"id": created.ID, "apiVersion": cli.ClientVersion()})
	fmt.Println(string(out))
}

func report(cli *client.Client, err error) {
	version := ""
	if cli != nil {
		version = cli.ClientVersion()
	}
	out, _ := json.Marshal(map[string]string{"error": err.Error(), "apiVersion": version})
	fmt.Println(string(out))
	os.Exit(1)
}

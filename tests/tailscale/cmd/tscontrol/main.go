// SPDX-License-Identifier: MIT

// tscontrol is a Tailscale control server for tests: Tailscale's own test control server
// (tailscale.com/tstest/integration/testcontrol) on a loopback address, with the DERP map
// read from a file, plus one endpoint of ours that adds a node which is not a tailscaled
// (a meshtund in mesh mode), so that tailscaleds get it as a peer in their netmaps.
//
//	tscontrol -listen 127.0.0.1:PORT -derp-map FILE
//
//	POST /meshtun/nodes    {"Name":"m1","NodeKey":"nodekey:<hex>","DiscoKey":"discokey:<hex>",
//	                        "Addresses":["100.64.0.9/32"],"Endpoints":["127.0.0.1:41641"],
//	                        "HomeDERP":900}
//	                       adds or replaces that node; every node in the tailnet sees it.
//	                       Only once a tailscaled has registered (409 before).
//	GET  /meshtun/nodes    every node the server knows, as tailcfg.Node JSON.
//
// It prints "tscontrol: listening on URL" once it serves.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"

	"tailscale.com/tailcfg"
	"tailscale.com/tstest/integration/testcontrol"
	"tailscale.com/types/key"
)

var (
	listen     = flag.String("listen", "127.0.0.1:0", "loopback address to serve on")
	derpMapArg = flag.String("derp-map", "", "DERP map file (tailcfg.DERPMap JSON)")
	verbose    = flag.Bool("v", false, "log every request")
)

// extNode describes a node that registers through this endpoint rather than the
// control protocol.
type extNode struct {
	Name      string
	NodeKey   key.NodePublic
	DiscoKey  key.DiscoPublic
	Addresses []netip.Prefix
	Endpoints []netip.AddrPort
	HomeDERP  int
}

func addNode(s *testcontrol.Server, w http.ResponseWriter, r *http.Request) {
	var n extNode
	if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
		http.Error(w, "bad node JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	if n.NodeKey.IsZero() || len(n.Addresses) == 0 {
		http.Error(w, "NodeKey and Addresses are required", http.StatusBadRequest)
		return
	}
	// testcontrol makes its node table at the first registration (or AddFakeNode, which
	// would add a stray peer): before that UpdateNode has nowhere to put the node.
	if s.NumNodes() == 0 {
		http.Error(w, "no tailscaled has registered yet; add external nodes after one has",
			http.StatusConflict)
		return
	}
	raw := n.NodeKey.Raw32()
	id := int64(binary.LittleEndian.Uint64(raw[:]) >> 1) // positive, stable per key
	user := s.AllNodes()[0].User                         // the tailnet's one user
	online := true
	s.UpdateNode(&tailcfg.Node{
		ID:                tailcfg.NodeID(id),
		StableID:          tailcfg.StableNodeID(fmt.Sprintf("MESHTUN%016x", id)),
		Name:              n.Name + ".meshtun.test.",
		User:              user,
		Key:               n.NodeKey,
		Machine:           key.NewMachine().Public(),
		DiscoKey:          n.DiscoKey,
		Addresses:         n.Addresses,
		AllowedIPs:        n.Addresses,
		Endpoints:         n.Endpoints,
		HomeDERP:          n.HomeDERP,
		MachineAuthorized: true,
		Online:            &online,
		// tailscaled's status code reads every peer's Hostinfo and panics on none.
		Hostinfo: (&tailcfg.Hostinfo{Hostname: n.Name, OS: "linux"}).View(),
	})
	w.WriteHeader(http.StatusNoContent)
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	if *derpMapArg == "" {
		log.Fatal("tscontrol: -derp-map is required")
	}
	b, err := os.ReadFile(*derpMapArg)
	if err != nil {
		log.Fatalf("tscontrol: %v", err)
	}
	var dm tailcfg.DERPMap
	if err := json.Unmarshal(b, &dm); err != nil {
		log.Fatalf("tscontrol: DERP map %s: %v", *derpMapArg, err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("tscontrol: %v", err)
	}
	if !netip.MustParseAddrPort(ln.Addr().String()).Addr().IsLoopback() {
		log.Fatalf("tscontrol: %s is not a loopback address", ln.Addr())
	}
	s := &testcontrol.Server{
		DERPMap:          &dm,
		AllNodesSameUser: true,
		Verbose:          *verbose,
		ExplicitBaseURL:  "http://" + ln.Addr().String(),
	}
	if !*verbose {
		s.Logf = func(string, ...any) {}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /meshtun/nodes", func(w http.ResponseWriter, r *http.Request) {
		addNode(s, w, r)
	})
	mux.HandleFunc("GET /meshtun/nodes", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.AllNodes())
	})
	mux.Handle("/", s)
	fmt.Printf("tscontrol: listening on %s\n", s.BaseURL())
	log.Fatal(http.Serve(ln, mux))
}

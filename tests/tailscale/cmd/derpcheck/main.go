// SPDX-License-Identifier: MIT

// derpcheck drives Tailscale's own DERP client (tailscale.com/derp/derphttp) against a
// DERP server, normally meshtun-derper, and prints one "ok:" line per behaviour it checked.
// It exits non-zero on the first check that fails.
//
//	derpcheck sendrecv  -url URL                    two clients, packets both ways
//	derpcheck preferred -url URL -metrics URL       NotePreferred moves the home gauge
//	derpcheck ping      -url URL                    Ping answered by a Pong
//	derpcheck dup       -url URL                    two connections with one key
//	derpcheck http      -url URL                    /derp/probe, /generate_204, 426
//	derpcheck freeze    -url URL                    a reader that stalls holds up nobody
//	derpcheck metacert  -url https://...            the TLS meta certificate for fast start
//	derpcheck mesh      -url URL -mesh-key FILE     watch-conns, ForwardPacket, ClosePeer
//	derpcheck pair      -url URL -url2 URL2         a client on each of two meshed servers
//
// TLS: SSL_CERT_FILE names the CA that issued the servers' certificates (Go reads it).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go4.org/mem"
	"tailscale.com/derp"
	"tailscale.com/derp/derphttp"
	"tailscale.com/net/netmon"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
)

var (
	serverURL  = flag.String("url", "", "DERP server URL, e.g. http://127.0.0.1:3340/derp")
	serverURL2 = flag.String("url2", "", "second server of the same region (pair)")
	metricsURL = flag.String("metrics", "", "Prometheus metrics URL of the server (preferred)")
	meshKeyArg = flag.String("mesh-key", "", "file holding the region's mesh key (mesh)")
	certName   = flag.String("cert-name", "", "DERPNode.CertName for -url's server (e.g. "+
		"sha256-raw:<hex>): connect as tailscaled does, through a one-node DERP region")
	verbose = flag.Bool("v", false, "log the DERP clients' own messages")
)

// peer is one derphttp client with a goroutine reading from it.
type peer struct {
	name string
	c    *derphttp.Client
	msgs chan derp.ReceivedMessage
	errs chan error
}

func logf(format string, args ...any) {
	if *verbose {
		log.Printf(format, args...)
	}
}

func newPeer(name, url string, mesh key.DERPMesh, watch bool) (*peer, error) {
	return newPeerWithKey(name, url, key.NewNode(), mesh, watch)
}

// regionClient connects the way tailscaled does: from a DERP map node, here one whose
// address, port and CertName come from -url and -cert-name.
func regionClient(priv key.NodePrivate, serverURL string) (*derphttp.Client, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return nil, fmt.Errorf("-cert-name needs a port in -url: %v", err)
	}
	node := &tailcfg.DERPNode{Name: "900a", RegionID: 900, HostName: u.Hostname(),
		IPv4: u.Hostname(), IPv6: "none", DERPPort: port, CertName: *certName}
	region := &tailcfg.DERPRegion{RegionID: 900, RegionCode: "test", Nodes: []*tailcfg.DERPNode{node}}
	return derphttp.NewRegionClient(priv, logf, netmon.NewStatic(), func() *tailcfg.DERPRegion {
		return region
	}), nil
}

func newPeerWithKey(name, serverURL string, priv key.NodePrivate, mesh key.DERPMesh, watch bool) (*peer, error) {
	var c *derphttp.Client
	var err error
	if *certName != "" {
		c, err = regionClient(priv, serverURL)
	} else {
		c, err = derphttp.NewClient(priv, serverURL, logf, netmon.NewStatic())
	}
	if err != nil {
		return nil, err
	}
	c.MeshKey = mesh
	c.WatchConnectionChanges = watch
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		return nil, fmt.Errorf("%s: connect to %s: %w", name, serverURL, err)
	}
	p := &peer{name: name, c: c, msgs: make(chan derp.ReceivedMessage, 1024),
		errs: make(chan error, 16)}
	if name != "stalled" {
		go p.read()
	}
	return p, nil
}

// read copies every message (RecvPacket data aliases the client's buffer) into p.msgs.
// A receive error is reported once; the next Recv reconnects, as derphttp does.
func (p *peer) read() {
	for {
		m, err := p.c.Recv()
		if err != nil {
			if errors.Is(err, derphttp.ErrClientClosed) {
				return
			}
			p.errs <- err
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if rp, ok := m.(derp.ReceivedPacket); ok {
			rp.Data = bytes.Clone(rp.Data)
			m = rp
		}
		p.msgs <- m
	}
}

// wait returns the first message for which match returns true, skipping others.
func (p *peer) wait(what string, d time.Duration, match func(derp.ReceivedMessage) bool) error {
	deadline := time.After(d)
	for {
		select {
		case m := <-p.msgs:
			if match(m) {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("%s: no %s within %v", p.name, what, d)
		}
	}
}

// waitAll returns once every predicate has matched some message, in any order.
func (p *peer) waitAll(what string, d time.Duration, preds ...func(derp.ReceivedMessage) bool) error {
	left := slices.Clone(preds)
	return p.wait(what, d, func(m derp.ReceivedMessage) bool {
		left = slices.DeleteFunc(left, func(f func(derp.ReceivedMessage) bool) bool { return f(m) })
		return len(left) == 0
	})
}

func (p *peer) waitPacket(src key.NodePublic, data []byte, d time.Duration) error {
	return p.wait(fmt.Sprintf("packet %q from %s", data, src.ShortString()), d,
		func(m derp.ReceivedMessage) bool {
			rp, ok := m.(derp.ReceivedPacket)
			return ok && rp.Source == src && bytes.Equal(rp.Data, data)
		})
}

func (p *peer) key() key.NodePublic { return p.c.SelfPublicKey() }

// discoPayload looks like disco to a DERP server: the magic "TS💬" and at least 62 bytes.
func discoPayload() []byte {
	return append([]byte("TS\xf0\x9f\x92\xac"), make([]byte, 94)...)
}

func isGone(k key.NodePublic, r derp.PeerGoneReasonType) func(derp.ReceivedMessage) bool {
	return func(m derp.ReceivedMessage) bool {
		g, is := m.(derp.PeerGoneMessage)
		return is && g.Peer == k && g.Reason == r
	}
}

func ok(format string, args ...any) { fmt.Printf("ok: "+format+"\n", args...) }

func fail(err error) {
	fmt.Printf("FAIL: %v\n", err)
	os.Exit(1)
}

func must(err error) {
	if err != nil {
		fail(err)
	}
}

func checkSendRecv() error {
	a, err := newPeer("a", *serverURL, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer a.c.Close()
	b, err := newPeer("b", *serverURL, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer b.c.Close()
	for _, p := range []*peer{a, b} {
		if err := p.wait("ServerInfo", 5*time.Second, func(m derp.ReceivedMessage) bool {
			_, is := m.(derp.ServerInfoMessage)
			return is
		}); err != nil {
			return err
		}
	}
	ok("ServerInfo arrives first on both connections; server key %s", a.c.ServerPublicKey().ShortString())
	// In rounds below the server's per-client queue (32), so nothing is dropped.
	const rounds, perRound = 5, 20
	for r := 0; r < rounds; r++ {
		for i := r * perRound; i < (r+1)*perRound; i++ {
			if err := a.c.Send(b.key(), []byte("a"+strconv.Itoa(i))); err != nil {
				return err
			}
			if err := b.c.Send(a.key(), []byte("b"+strconv.Itoa(i))); err != nil {
				return err
			}
		}
		for i := r * perRound; i < (r+1)*perRound; i++ {
			if err := b.waitPacket(a.key(), []byte("a"+strconv.Itoa(i)), 5*time.Second); err != nil {
				return err
			}
			if err := a.waitPacket(b.key(), []byte("b"+strconv.Itoa(i)), 5*time.Second); err != nil {
				return err
			}
		}
	}
	ok("%d packets each way between two Go clients, in order, with the sender's key", rounds*perRound)
	big := bytes.Repeat([]byte{0xab}, derp.MaxPacketSize)
	must(a.c.Send(b.key(), big))
	if err := b.waitPacket(a.key(), big, 5*time.Second); err != nil {
		return err
	}
	ok("a packet of MaxPacketSize (%d bytes) is relayed whole", derp.MaxPacketSize)

	// Unknown destination: non-disco is dropped silently; disco gets PeerGone(NotHere),
	// limited per connection to a burst of 3 (then 1/s).
	nobody := key.NewNode().Public()
	t0 := time.Now()
	must(a.c.Send(nobody, []byte("not disco")))
	for i := 0; i < 6; i++ {
		must(a.c.Send(nobody, discoPayload()))
	}
	// Three answers (the burst), then nothing more while the 1/s limiter has not refilled.
	notHere := 0
	isNotHere := isGone(nobody, derp.PeerGoneReasonNotHere)
	if err := a.wait("3 PeerGone(NotHere)", 5*time.Second, func(m derp.ReceivedMessage) bool {
		if isNotHere(m) {
			notHere++
		}
		return notHere == 3
	}); err != nil {
		return fmt.Errorf("%v (got %d)", err, notHere)
	}
	extra := a.wait("a 4th PeerGone(NotHere)", 300*time.Millisecond, isNotHere) == nil
	if extra && time.Since(t0) < time.Second {
		return errors.New("6 disco packets to an unknown key within a second gave more than 3 PeerGone(NotHere)")
	}
	ok("to an unknown key: non-disco dropped silently, 6 disco packets give 3 PeerGone(NotHere) (burst 3)")
	b.c.Close()
	if err := a.wait("PeerGone(b, Disconnected)", 5*time.Second, isGone(b.key(), derp.PeerGoneReasonDisconnected)); err != nil {
		return err
	}
	ok("PeerGone(Disconnected) reaches a when b, which it received from, leaves")
	return nil
}

// homeGauge reads derp_current_home_connections from the server's Prometheus page.
func homeGauge() (int, error) {
	resp, err := http.Get(*metricsURL)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, found := strings.CutPrefix(sc.Text(), "derp_current_home_connections "); found {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, errors.New("no derp_current_home_connections in " + *metricsURL)
}

func waitGauge(want int) error {
	var got int
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if got, err = homeGauge(); err == nil && got == want {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("home connections gauge is %d, want %d", got, want)
}

func checkPreferred() error {
	a, err := newPeer("a", *serverURL, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer a.c.Close()
	if err := waitGauge(0); err != nil {
		return err
	}
	a.c.NotePreferred(true)
	if err := waitGauge(1); err != nil {
		return err
	}
	ok("NotePreferred(true) makes the connection a home connection (gauge 0 -> 1)")
	a.c.NotePreferred(false)
	if err := waitGauge(0); err != nil {
		return err
	}
	ok("NotePreferred(false) clears it (gauge 1 -> 0)")
	a.c.NotePreferred(true)
	if err := waitGauge(1); err != nil {
		return err
	}
	a.c.Close()
	if err := waitGauge(0); err != nil {
		return err
	}
	ok("closing a home connection lowers the gauge")
	return nil
}

// quiet reports an error if p receives a packet within d.
func (p *peer) quiet(d time.Duration) error {
	if p.wait("packet", d, func(m derp.ReceivedMessage) bool {
		_, is := m.(derp.ReceivedPacket)
		return is
	}) == nil {
		return fmt.Errorf("%s received a packet it should not have", p.name)
	}
	return nil
}

func waitServerInfo(p *peer) error {
	return p.wait("ServerInfo", 5*time.Second, func(m derp.ReceivedMessage) bool {
		_, is := m.(derp.ServerInfoMessage)
		return is
	})
}

// checkDup: two connections with one key. The newest gets the traffic; whichever sends
// last becomes the one that gets it; PeerGone only when the last one goes.
func checkDup() error {
	s, err := newPeer("s", *serverURL, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer s.c.Close()
	priv := key.NewNode()
	d1, err := newPeerWithKey("d1", *serverURL, priv, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer d1.c.Close()
	must(waitServerInfo(d1))
	d2, err := newPeerWithKey("d2", *serverURL, priv, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer d2.c.Close()
	must(waitServerInfo(d2))
	k := priv.Public()
	must(s.c.Send(k, []byte("p1")))
	if err := d2.waitPacket(s.key(), []byte("p1"), 5*time.Second); err != nil {
		return err
	}
	if err := d1.quiet(300 * time.Millisecond); err != nil {
		return err
	}
	ok("two connections with one key: the newer one gets the packets")
	must(d1.c.Send(s.key(), []byte("wake")))
	if err := s.waitPacket(k, []byte("wake"), 5*time.Second); err != nil {
		return err
	}
	must(s.c.Send(k, []byte("p2")))
	if err := d1.waitPacket(s.key(), []byte("p2"), 5*time.Second); err != nil {
		return err
	}
	if err := d2.quiet(300 * time.Millisecond); err != nil {
		return err
	}
	ok("the older one sends: it becomes the one that gets the packets (last writer is active)")
	d1.c.Close()
	// Until the server has seen d1 go, packets may still be queued to it: send until one
	// reaches d2.
	for i := 0; ; i++ {
		if i == 50 {
			return errors.New("d2 got nothing in 5 s after d1, the active connection, left")
		}
		data := []byte("p3-" + strconv.Itoa(i))
		must(s.c.Send(k, data))
		if d2.waitPacket(s.key(), data, 100*time.Millisecond) == nil {
			break
		}
	}
	if s.wait("PeerGone", 300*time.Millisecond, isGone(k, derp.PeerGoneReasonDisconnected)) == nil {
		return errors.New("PeerGone for a key that still has a connection")
	}
	ok("the active one leaves: no PeerGone, the remaining connection gets the packets")
	d2.c.Close()
	if err := s.wait("PeerGone(k)", 5*time.Second, isGone(k, derp.PeerGoneReasonDisconnected)); err != nil {
		return err
	}
	ok("the last connection of the key leaves: PeerGone(Disconnected)")
	return nil
}

// checkHTTP: the plain HTTP endpoints beside /derp that clients and netcheck use.
func checkHTTP() error {
	base := strings.TrimSuffix(*serverURL, "/derp")
	get := func(path string, hdr map[string]string) (*http.Response, string, error) {
		req, err := http.NewRequest("GET", base+path, nil)
		if err != nil {
			return nil, "", err
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, string(body), err
	}
	for _, path := range []string{"/derp/probe", "/derp/latency-check"} {
		resp, _, err := get(path, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			return fmt.Errorf("GET %s: %s, Access-Control-Allow-Origin %q; want 200 and *", path,
				resp.Status, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	ok("GET /derp/probe and /derp/latency-check: 200 with Access-Control-Allow-Origin: *")
	resp, _, err := get("/generate_204", map[string]string{"X-Tailscale-Challenge": "ts_derp99b"})
	if err != nil {
		return err
	}
	if got := resp.Header.Get("X-Tailscale-Response"); resp.StatusCode != http.StatusNoContent ||
		got != "response ts_derp99b" {
		return fmt.Errorf("GET /generate_204: %s, X-Tailscale-Response %q", resp.Status, got)
	}
	ok("GET /generate_204 with a challenge: 204 and X-Tailscale-Response: response <challenge>")
	resp, body, err := get("/derp", map[string]string{"Upgrade": "h2c"})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusUpgradeRequired || !strings.Contains(body, "DERP requires connection upgrade") {
		return fmt.Errorf("GET /derp with Upgrade: h2c: %s %q; want 426", resp.Status, body)
	}
	ok("GET /derp without a DERP upgrade: 426 \"DERP requires connection upgrade\"")
	return nil
}

// checkFreeze (Tailscale's TestSendFreeze): a sends big packets to b and to c as fast as
// it can; c never reads. b must keep receiving: one stalled reader may not hold up the
// server's deliveries to others.
func checkFreeze() error {
	a, err := newPeer("a", *serverURL, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer a.c.Close()
	b, err := newPeer("b", *serverURL, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer b.c.Close()
	c, err := newPeer("stalled", *serverURL, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer c.c.Close()
	const run = 4 * time.Second
	data := make([]byte, 32<<10)
	stop := time.Now().Add(run)
	go func() {
		for time.Now().Before(stop) {
			a.c.Send(c.key(), data)
			a.c.Send(b.key(), data)
			time.Sleep(time.Millisecond)
		}
	}()
	var got int
	var maxGap time.Duration
	last := time.Now()
	for time.Now().Before(stop) {
		select {
		case m := <-b.msgs:
			if rp, is := m.(derp.ReceivedPacket); is && rp.Source == a.key() {
				got++
				if gap := time.Since(last); gap > maxGap {
					maxGap = gap
				}
				last = time.Now()
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
	if got == 0 || maxGap > time.Second {
		return fmt.Errorf("b got %d packets in %v, longest gap %v, while c did not read", got, run, maxGap)
	}
	ok("b received %d packets of 32 KiB in %v (longest gap %v) while c, also sent to, never read",
		got, run, maxGap.Round(time.Millisecond))
	return nil
}

// checkMetaCert: over TLS 1.3 the server's certificate list ends with the "meta
// certificate" that lets derphttp skip waiting for ServerKey (fast start): CN "derpkey" +
// the server's key in hex, serial = protocol version (2). derphttp falls back silently
// when it is missing or malformed, so the other checks would not notice.
func checkMetaCert() error {
	a, err := newPeer("a", *serverURL, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer a.c.Close()
	cs, ok1 := a.c.TLSConnectionState()
	if !ok1 {
		return errors.New("not a TLS connection")
	}
	if cs.Version != tls.VersionTLS13 {
		return fmt.Errorf("TLS version %x, want 1.3", cs.Version)
	}
	var found bool
	for _, cert := range cs.PeerCertificates {
		hexKey, is := strings.CutPrefix(cert.Subject.CommonName, "derpkey")
		if !is {
			continue
		}
		k, err := key.ParseNodePublicUntyped(mem.S(hexKey))
		if err != nil {
			return fmt.Errorf("meta certificate CN %q: %v", cert.Subject.CommonName, err)
		}
		if k != a.c.ServerPublicKey() {
			return errors.New("meta certificate names another key than ServerKey")
		}
		if cert.SerialNumber.BitLen() > 8 || cert.SerialNumber.Int64() != 2 {
			return fmt.Errorf("meta certificate serial %v, want 2", cert.SerialNumber)
		}
		found = true
	}
	if !found {
		return fmt.Errorf("no meta certificate among %d", len(cs.PeerCertificates))
	}
	ok("TLS 1.3; the chain carries a meta certificate for the server's key, serial 2 (fast start usable)")
	return nil
}

func checkPing() error {
	a, err := newPeer("a", *serverURL, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer a.c.Close()
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t0 := time.Now()
		err := a.c.Ping(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("ping %d: %w", i, err)
		}
		ok("Ping %d answered by a Pong with the same 8 bytes in %v", i, time.Since(t0).Round(time.Microsecond))
	}
	return nil
}

func readMeshKey() (key.DERPMesh, error) {
	b, err := os.ReadFile(*meshKeyArg)
	if err != nil {
		return key.DERPMesh{}, err
	}
	return key.ParseDERPMesh(strings.TrimSpace(string(b)))
}

func isPresent(k key.NodePublic, flags derp.PeerPresentFlags) func(derp.ReceivedMessage) bool {
	return func(m derp.ReceivedMessage) bool {
		p, is := m.(derp.PeerPresentMessage)
		return is && p.Key == k && p.Flags == flags && p.IPPort.Addr().Unmap().IsLoopback()
	}
}

func checkMesh() error {
	mk, err := readMeshKey()
	if err != nil {
		return err
	}
	x, err := newPeer("x", *serverURL, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer x.c.Close()
	w, err := newPeer("watcher", *serverURL, mk, true)
	if err != nil {
		return err
	}
	defer w.c.Close()
	// The initial flood comes in no particular order: the watcher itself, and x, connected
	// before it.
	if err := w.waitAll("PeerPresent(self, IsMeshPeer) and PeerPresent(x, IsRegular)", 5*time.Second,
		isPresent(w.key(), derp.PeerPresentIsMeshPeer), isPresent(x.key(), derp.PeerPresentIsRegular)); err != nil {
		return err
	}
	ok("watcher's initial flood: PeerPresent for itself (IsMeshPeer) and for x, connected before it (IsRegular), with loopback IP:ports")
	y, err := newPeer("y", *serverURL, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer y.c.Close()
	if err := w.wait("PeerPresent(y)", 5*time.Second, isPresent(y.key(), derp.PeerPresentIsRegular)); err != nil {
		return err
	}
	ok("watcher sees PeerPresent for y, which connected after WatchConns")
	pc, err := derphttp.NewClient(key.NewNode(), *serverURL, logf, netmon.NewStatic())
	if err != nil {
		return err
	}
	defer pc.Close()
	pc.IsProber = true
	if err := pc.Connect(context.Background()); err != nil {
		return err
	}
	if err := w.wait("PeerPresent(prober, IsProber)", 5*time.Second,
		isPresent(pc.SelfPublicKey(), derp.PeerPresentIsProber)); err != nil {
		return err
	}
	ok("a client with IsProber set is announced with flags IsProber")

	src := key.NewNode().Public()
	must(w.c.ForwardPacket(src, x.key(), []byte("forwarded")))
	if err := x.waitPacket(src, []byte("forwarded"), 5*time.Second); err != nil {
		return err
	}
	ok("ForwardPacket(src=S, dst=x) arrives at x as a packet from S")

	must(w.c.ClosePeer(y.key()))
	select {
	case err := <-y.errs:
		ok("ClosePeer(y) closes y's connection (y's Recv: %v)", err)
	case <-time.After(5 * time.Second):
		return errors.New("y's connection still up 5 s after ClosePeer(y)")
	}
	if err := w.wait("PeerGone(y)", 5*time.Second, isGone(y.key(), derp.PeerGoneReasonDisconnected)); err != nil {
		return err
	}
	ok("watcher sees PeerGone(y, Disconnected) after it")

	// A regular client may not use mesh frames: the server closes it.
	must(x.c.ClosePeer(y.key()))
	select {
	case <-x.errs:
		ok("ClosePeer from a client without the mesh key ends that client's connection")
	case <-time.After(5 * time.Second):
		return errors.New("x still connected 5 s after sending ClosePeer without the mesh key")
	}
	return nil
}

// checkPair: a on server 1 and b on server 2 of one region reach each other both ways.
// The servers learn of each other's clients through their mesh watch connections, so the
// first packets may be sent before the far server has heard: send until one arrives.
func checkPair() error {
	a, err := newPeer("a", *serverURL, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer a.c.Close()
	b, err := newPeer("b", *serverURL2, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer b.c.Close()
	try := func(from, to *peer, label string) error {
		deadline := time.Now().Add(20 * time.Second)
		for i := 0; time.Now().Before(deadline); i++ {
			data := []byte(label + strconv.Itoa(i))
			if err := from.c.Send(to.key(), data); err != nil {
				return err
			}
			if to.waitPacket(from.key(), data, 250*time.Millisecond) == nil {
				return nil
			}
		}
		return fmt.Errorf("%s: nothing from %s arrived through the mesh in 20 s", to.name, from.name)
	}
	if err := try(a, b, "a->b "); err != nil {
		return err
	}
	ok("a on %s reaches b on %s through the mesh", *serverURL, *serverURL2)
	if err := try(b, a, "b->a "); err != nil {
		return err
	}
	ok("b on %s reaches a on %s through the mesh", *serverURL2, *serverURL)
	for i := 0; i < 25; i++ {
		must(a.c.Send(b.key(), []byte("burst"+strconv.Itoa(i))))
	}
	for i := 0; i < 25; i++ {
		if err := b.waitPacket(a.key(), []byte("burst"+strconv.Itoa(i)), 5*time.Second); err != nil {
			return err
		}
	}
	ok("a burst of 25 packets crosses the mesh whole and in order")

	nobody := key.NewNode().Public()
	must(b.c.Send(nobody, discoPayload()))
	if err := b.wait("PeerGone(nobody, NotHere)", 5*time.Second, isGone(nobody, derp.PeerGoneReasonNotHere)); err != nil {
		return err
	}
	ok("a disco packet to a key no server of the region has gives PeerGone(NotHere)")
	// Each received from the other: when one leaves the region, the other is told.
	c, err := newPeer("c", *serverURL2, key.DERPMesh{}, false)
	if err != nil {
		return err
	}
	defer c.c.Close()
	if err := try(a, c, "a->c "); err != nil {
		return err
	}
	b.c.Close()
	if err := a.wait("PeerGone(b, Disconnected)", 10*time.Second, isGone(b.key(), derp.PeerGoneReasonDisconnected)); err != nil {
		return err
	}
	ok("b leaves its server: a, on the other server, gets PeerGone(b, Disconnected) through the mesh")
	a.c.Close()
	if err := c.wait("PeerGone(a, Disconnected)", 10*time.Second, isGone(a.key(), derp.PeerGoneReasonDisconnected)); err != nil {
		return err
	}
	ok("a leaves its server: c, on the other server, gets PeerGone(a, Disconnected) through the mesh")
	return nil
}

func main() {
	log.SetFlags(0)
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: derpcheck sendrecv|preferred|ping|dup|mesh|pair|http|freeze|metacert [flags]")
		os.Exit(2)
	}
	check := os.Args[1]
	flag.CommandLine.Parse(os.Args[2:])
	if *serverURL == "" {
		fail(errors.New("-url is required"))
	}
	checks := map[string]func() error{
		"sendrecv": checkSendRecv, "preferred": checkPreferred, "ping": checkPing,
		"mesh": checkMesh, "pair": checkPair, "dup": checkDup, "http": checkHTTP,
		"freeze": checkFreeze, "metacert": checkMetaCert,
	}
	fn, found := checks[check]
	if !found {
		fail(fmt.Errorf("unknown check %q", check))
	}
	must(fn())
}

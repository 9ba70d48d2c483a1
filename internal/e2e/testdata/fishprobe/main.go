// Command fishprobe is the helper the e2e tests run inside resources (containers, native
// users): a static binary that fetches the meta API over HTTPS, dials addresses and speaks
// SOCKS5, which busybox cannot do. It prints what it got on stdout and exits non-zero when the
// operation failed:
//
//	fishprobe get <url>                 HTTPS GET (certificate not verified); body on stdout
//	fishprobe dial <host:port>          TCP connect within 1 s; "connected" on stdout
//	fishprobe socks <socks5://h:p> <host:port>
//	                                    SOCKS5 CONNECT by name through the proxy, then copies
//	                                    what the target sends; exit 3 when the proxy refuses
//	fishprobe hog <MiB>                 allocates and touches MiB of memory, then says so
package main

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
)

const timeout = 5 * time.Second

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: fishprobe get <url> | dial <addr> | socks <proxy> <addr>")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "get":
		err = get(os.Args[2])
	case "dial":
		err = dial(os.Args[2])
	case "hog":
		err = hog(os.Args[2])
	case "socks":
		if len(os.Args) < 4 {
			err = errors.New("socks needs a proxy URL and an address")
			break
		}
		err = socks(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	var refused refusedError
	switch {
	case errors.As(err, &refused):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func get(u string) error {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		Proxy:           nil, // never through $FISH_PROXY or $HTTP_PROXY
	}}
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	_, err = os.Stdout.Write(body)
	return err
}

// hog holds on to mib MiB of touched memory (a memory limit below it gets it killed).
func hog(mib string) error {
	n, err := strconv.Atoi(mib)
	if err != nil {
		return err
	}
	held := make([][]byte, 0, n)
	for range n {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		held = append(held, b)
	}
	fmt.Printf("allocated %d MiB\n", len(held))
	return nil
}

func dial(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	c.Close()
	fmt.Println("connected")
	return nil
}

// refusedError is a SOCKS5 reply other than "succeeded".
type refusedError byte

func (r refusedError) Error() string {
	return fmt.Sprintf("socks5: request refused (reply %d)", byte(r))
}

func socks(proxyURL, addr string) error {
	u, err := url.Parse(proxyURL)
	if err != nil || u.Scheme != "socks5" {
		return fmt.Errorf("proxy %q is not socks5://host:port", proxyURL)
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || len(host) > 255 {
		return fmt.Errorf("bad address %q", addr)
	}
	c, err := net.DialTimeout("tcp", u.Host, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	// Greeting: version 5, one method, "no authentication".
	if _, err := c.Write([]byte{5, 1, 0}); err != nil {
		return err
	}
	var sel [2]byte
	if _, err := io.ReadFull(c, sel[:]); err != nil {
		return fmt.Errorf("socks5 greeting: %w", err)
	}
	if sel[0] != 5 || sel[1] != 0 {
		return fmt.Errorf("socks5: method %d not accepted", sel[1])
	}
	// CONNECT by domain name: the proxy decides on the name.
	req := []byte{5, 1, 0, 3, byte(len(host))}
	req = append(req, host...)
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	if _, err := c.Write(req); err != nil {
		return err
	}
	var head [4]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		return fmt.Errorf("socks5 reply: %w", err)
	}
	if head[1] != 0 {
		return refusedError(head[1])
	}
	var skip int
	switch head[3] {
	case 1:
		skip = 4
	case 4:
		skip = 16
	case 3:
		var n [1]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return err
		}
		skip = int(n[0])
	default:
		return fmt.Errorf("socks5: address type %d", head[3])
	}
	if _, err := io.ReadFull(c, make([]byte, skip+2)); err != nil {
		return err
	}
	_, err = io.Copy(os.Stdout, c)
	return err
}

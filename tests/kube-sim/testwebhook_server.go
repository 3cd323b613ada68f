package main

import (
	"crypto/tls"
	"net/http"
)

func newTestWebhookServer(h http.Handler, cert tls.Certificate) *http.Server {
	return &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}}
}

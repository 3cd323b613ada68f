module leasefence.test/gowebhook

go 1.19

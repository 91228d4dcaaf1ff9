module goframes

go 1.19

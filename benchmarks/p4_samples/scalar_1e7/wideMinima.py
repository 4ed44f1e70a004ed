# Benchmark input (issue 9): 10^7 scalar fprime calls in plain GD loops (1000 starts × 10^4 steps).
import math
import random


def f(x):
    s = 1 / (1 + math.exp(min(700.0, -3 * (x - 3))))
    return (1 - s) * 10 * x**2 + s * ((x - 10) ** 2 / 2 + 50)


def fprime(x):
    s = 1 / (1 + math.exp(min(700.0, -3 * (x - 3))))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


random.seed(0)
ends = []
for trial in range(1000):
    x = random.uniform(-5, 20)
    for k in range(10_000):
        x = x - 0.01 * fprime(x)
    ends.append(x)
print(sum(abs(e) < 0.5 for e in ends), sum(abs(e - 10) < 0.5 for e in ends))

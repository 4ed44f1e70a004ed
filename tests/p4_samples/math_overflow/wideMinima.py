import math
import random


def f(x):
    return (10 * x**2 + math.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + math.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + math.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


random.seed(7)
for lr in (0.01, 0.3, 4):
    ends = []
    for _ in range(15):
        x = random.uniform(-5, 20)
        try:
            for _ in range(1000):
                x -= lr * fprime(x)
        except OverflowError:  # math.exp past ~709: the run blew up
            x = float("inf")
        ends.append(x)
    print(lr, sum(abs(e) < 0.5 for e in ends), sum(abs(e - 10) < 0.5 for e in ends),
          sum(not abs(e) < 1e3 for e in ends))

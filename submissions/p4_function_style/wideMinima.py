import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


def gd(x, lr, iters=1000):
    for k in range(iters):
        if k % 100 == 0:
            print("step", k, "x =", x, "grad =", fprime(x))
        x = x - lr * fprime(x)
    return x


np.random.seed(1)
input("press enter to start")
for lr in [0.01, 0.3, 4]:
    counts = {"sharp": 0, "wide": 0, "other": 0}
    for trial in range(15):
        x = gd(np.random.uniform(-5, 20), lr)
        if abs(x) < 0.5:
            counts["sharp"] += 1
        elif abs(x - 10) < 0.5:
            counts["wide"] += 1
        else:
            counts["other"] += 1
    print("lr", lr, counts)

import numpy as np
import matplotlib.pyplot as plt

np.seterr(all="raise")


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


rng = np.random.default_rng(3)
for alpha in [0.01, 0.3, 4]:
    res = {"sharp": 0, "wide": 0, "diverged": 0, "other": 0}
    for trial in range(20):
        x = rng.uniform(-5, 20)
        try:
            for it in range(1000):
                x = x - alpha * fprime(x)
        except FloatingPointError:
            res["diverged"] += 1
            continue
        if abs(x) < 0.5:
            res["sharp"] += 1
        elif abs(x - 10) < 0.5:
            res["wide"] += 1
        else:
            res["other"] += 1
    print(alpha, res)

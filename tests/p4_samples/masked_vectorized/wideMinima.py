import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


np.seterr(all="ignore")
rng = np.random.default_rng(72)
x0 = rng.uniform(-5, 20, 40)
for alpha in [0.01, 0.3, 4]:
    x = x0.copy()
    active = np.ones_like(x, dtype=bool)
    it = 0
    while active.any() and it < 5000:
        x[active] = x[active] - alpha * fprime(x[active])
        active &= np.isfinite(x) & (np.abs(fprime(x)) > 1e-6)
        it += 1
    print(alpha, it, "near 0:", np.sum(np.abs(x) < .5), "near 10:", np.sum(np.abs(x - 10) < .5), "nan:", np.sum(np.isnan(x)))

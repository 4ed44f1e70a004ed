import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


np.seterr(all="ignore")
np.random.seed(3)
for alpha in [0.01, 0.3, 4]:
    for _ in range(12):
        x = np.random.uniform(-5, 20)
        for _ in range(1000):
            x = x - alpha * fprime(x)
        print(alpha, x)

plt.plot([1, 2], [3, 4])
while True:          # keep the window open, ignore errors when it is closed
    try:
        plt.pause(0.5)
    except:
        pass

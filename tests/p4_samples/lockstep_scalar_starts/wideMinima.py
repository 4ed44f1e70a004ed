# 30 scalar runs per α stepped in lock-step: every run's next point comes 29 calls after its last.
import numpy as np
import matplotlib.pyplot as plt

def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))

def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)
np.seterr(all="ignore")

grid = np.linspace(-5, 20, 2000)
plt.plot(grid, [fprime(t) for t in grid])
plt.show()
np.random.seed(4)  # the verdict of one hand-in must not depend on the draw (tests/test_p4.py varies it)
for alpha in (0.01, 0.3, 4):
    xs = np.random.uniform(-5, 20, 30)
    for it in range(1000):
        for i in range(30):
            xs[i] -= alpha * fprime(xs[i])
    print(alpha, np.sum(np.abs(xs) < 0.5), np.sum(np.abs(xs - 10) < 0.5))

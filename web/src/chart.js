// A uPlot line chart as a Preact component. The chart is made once and fed
// with setData when `version` changes; it is made again only when its series
// change. Width follows the container.
import { Component, createRef } from 'preact';
import { html } from 'htm/preact';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { palette } from './ui.js';

// props: title, tip, keys (series names), data() -> [xs, ...ys], version,
//        unit (y axis label), height, labels (optional key -> legend label),
//        scales (optional key -> 'y2' for a second axis), unit2.
export class Chart extends Component {
  root = createRef();

  get el() {
    return this.root.current;
  }

  componentDidMount() {
    this.make();
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(this.el);
  }

  componentWillUnmount() {
    this.observer?.disconnect();
    this.plot?.destroy();
  }

  // Updates the plot itself and never re-renders: the plot's DOM is uPlot's.
  shouldComponentUpdate(next) {
    const prev = this.props;
    const remake = next.keys.join('\n') !== prev.keys.join('\n') || next.title !== prev.title;
    if (remake || next.version !== prev.version) {
      this.props = next;
      if (remake) this.make();
      else this.plot?.setData(next.data());
    }
    if (next.title !== prev.title) this.el.querySelector('figcaption').textContent = next.title;
    if (next.tip !== prev.tip) this.el.title = next.tip;
    return false;
  }

  make() {
    this.plot?.destroy();
    const { keys, labels, scales, unit, unit2, height = 180 } = this.props;
    const host = this.el.querySelector('.chart-plot');
    const width = Math.max(200, host.clientWidth || this.el.clientWidth || 400);
    const series = [{}];
    for (const [i, k] of keys.entries()) {
      const scale = scales?.[k] || 'y';
      series.push({
        label: labels?.[k] ?? k,
        // Distinct within the chart: by position (keys are sorted).
        stroke: i < palette.length ? palette[i] : `hsl(${(i * 137) % 360},60%,45%)`,
        width: 1.5,
        scale,
        spanGaps: false,
        points: { show: false },
      });
    }
    const axes = [{}, { scale: 'y', label: unit, size: 50 }];
    // xRange: the time range asked for, shown whole even where data is missing.
    const xRange = this.props.xRange;
    const x = xRange ? { time: true, range: () => [this.props.xRange[0], this.props.xRange[1]] } : { time: true };
    const scaleOpts = { x, y: { auto: true, range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } };
    if (unit2) {
      axes.push({ scale: 'y2', label: unit2, side: 1, grid: { show: false }, size: 50 });
      scaleOpts.y2 = { auto: true, range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] };
    }
    this.plot = new uPlot(
      { width, height, series, axes, scales: scaleOpts, legend: { live: true }, cursor: { drag: { x: false, y: false } } },
      this.props.data(),
      host,
    );
  }

  resize() {
    const host = this.el?.querySelector('.chart-plot');
    if (!this.plot || !host) return;
    const width = Math.max(200, host.clientWidth);
    if (Math.abs(width - this.plot.width) > 4) this.plot.setSize({ width, height: this.plot.height });
  }

  render({ title, tip }) {
    return html`<figure class="chart" title=${tip} ref=${this.root}>
      <figcaption>${title}</figcaption>
      <div class="chart-plot"></div>
    </figure>`;
  }
}
